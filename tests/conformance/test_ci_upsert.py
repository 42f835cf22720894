"""CI upserts: create, idempotency, versions and history, conflicts and strict batches."""

from __future__ import annotations

import pytest

from cmdb.model import ChangeContext, Origin, Status
from cmdb.store.base import GraphStore, RejectedRowsError, VersionConflictError
from tests.conformance.factories import ci
from tests.reference import load_hospital


def test_import_twice_is_unchanged(store: GraphStore, context: ChangeContext) -> None:
    cis, _ = load_hospital()

    first = store.upsert_cis(cis, context=context)
    second = store.upsert_cis(cis, context=context)

    assert (first.added, first.updated, first.unchanged) == (len(cis), 0, 0)
    assert (second.added, second.updated, second.unchanged) == (0, 0, len(cis))
    assert second.rejected == []
    assert store.counts()["cis"] == len(cis)
    assert store.counts()["versions"] == len(cis)


def test_create_returns_stored_fields(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis(
        [
            ci(
                "pump-1",
                "MedicalDevice",
                name="Infusion Pump 1",
                identifiers={"serial": "SN-1", "macs": ["00-1A-2B-3C-4D-5E"]},
                attributes={"manufacturer": "BD", "patient_connected": True},
                tags=["Medication", "icu"],
            )
        ],
        context=context,
    )

    record = store.get_ci("pump-1")

    assert record is not None
    assert record.ci_class == "MedicalDevice"
    assert record.name == "Infusion Pump 1"
    assert record.identifiers.serial == "SN-1"
    assert record.identifiers.macs == ["00:1a:2b:3c:4d:5e"]
    assert record.attributes == {"manufacturer": "BD", "patient_connected": True}
    assert record.tags == ["icu", "medication"]
    assert record.sources == {"manufacturer": "api", "patient_connected": "api"}
    assert record.version == 1
    assert record.first_seen == record.last_seen


def test_unchanged_row_updates_last_seen(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1")], context=context)
    before = store.get_ci("srv-1")

    store.upsert_cis([ci("srv-1")], context=context)
    after = store.get_ci("srv-1")

    assert before is not None and after is not None
    assert after.version == 1
    assert after.last_seen > before.last_seen
    assert after.first_seen == before.first_seen
    assert len(store.versions("srv-1")) == 1


def test_update_bumps_version_and_history(store: GraphStore) -> None:
    importer = ChangeContext(actor="importer", origin=Origin.IMPORT, request_id="req-a")
    editor = ChangeContext(actor="bob", origin=Origin.API, request_id="req-b", change_id="CHG-7")
    store.upsert_cis([ci("srv-1", attributes={"os": "RHEL 8", "cpu": 8})], context=importer)

    result = store.upsert_cis([ci("srv-1", attributes={"os": "RHEL 9", "cpu": 8})], context=editor)

    assert (result.added, result.updated, result.unchanged) == (0, 1, 0)
    record = store.get_ci("srv-1")
    assert record is not None
    assert record.version == 2
    assert record.attributes["os"] == "RHEL 9"
    assert record.sources == {"os": "api", "cpu": "import"}

    history = store.versions("srv-1")
    assert [(v.version, v.operation) for v in history] == [(1, "create"), (2, "update")]
    assert [(v.actor, v.origin, v.request_id) for v in history] == [
        ("importer", "import", "req-a"),
        ("bob", "api", "req-b"),
    ]
    assert history[1].change_id == "CHG-7"
    assert history[0].snapshot["attributes"] == {"os": "RHEL 8", "cpu": 8}
    assert history[1].snapshot["attributes"] == {"os": "RHEL 9", "cpu": 8}
    assert history[0].valid_to == history[1].valid_from
    assert history[1].valid_to is None


def test_expected_version_matching_updates(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1")], context=context)

    result = store.upsert_cis([ci("srv-1", name="renamed", version=1)], context=context, strict=True)

    assert result.updated == 1
    record = store.get_ci("srv-1")
    assert record is not None
    assert record.name == "renamed"
    assert record.version == 2


def test_stale_version_rejected(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1")], context=context)
    store.upsert_cis([ci("srv-1", name="second")], context=context)

    result = store.upsert_cis([ci("srv-1", name="third", version=1), ci("srv-2")], context=context)

    assert result.added == 1
    assert [(r.index, r.key) for r in result.rejected] == [(0, "srv-1")]
    assert "version 2" in result.rejected[0].message
    record = store.get_ci("srv-1")
    assert record is not None
    assert record.name == "second"


def test_stale_version_strict_raises_conflict(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1")], context=context)
    store.upsert_cis([ci("srv-1", name="second")], context=context)

    with pytest.raises(VersionConflictError) as raised:
        store.upsert_cis([ci("srv-1", name="third", version=1), ci("srv-2")], context=context, strict=True)

    assert (raised.value.key, raised.value.expected, raised.value.actual) == ("srv-1", 1, 2)
    assert store.get_ci("srv-2") is None
    assert store.counts()["cis"] == 1


def test_strict_batch_rolls_back_everything(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1")], context=context)
    counts_before = store.counts()
    batch = [
        ci("srv-1", name="changed"),
        ci("srv-2"),
        ci("srv-3", version=4),
        ci("srv-2", name="again"),
    ]

    with pytest.raises(RejectedRowsError) as raised:
        store.upsert_cis(batch, context=context, strict=True)

    assert [(r.index, r.key) for r in raised.value.rejected] == [(2, "srv-3"), (3, "srv-2")]
    assert store.counts() == counts_before
    assert store.get_ci("srv-2") is None
    record = store.get_ci("srv-1")
    assert record is not None
    assert record.name == "srv-1"
    assert record.version == 1


def test_duplicate_key_in_batch_rejected(store: GraphStore, context: ChangeContext) -> None:
    result = store.upsert_cis([ci("srv-1", name="first"), ci("srv-1", name="second")], context=context)

    assert result.added == 1
    assert [(r.index, r.key) for r in result.rejected] == [(1, "srv-1")]
    assert "srv-1" in result.rejected[0].message
    record = store.get_ci("srv-1")
    assert record is not None
    assert record.name == "first"


def test_removed_attribute_loses_source(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1", attributes={"os": "RHEL 9", "cpu": 8})], context=context)

    store.upsert_cis([ci("srv-1", attributes={"os": "RHEL 9"})], context=context)

    record = store.get_ci("srv-1")
    assert record is not None
    assert record.attributes == {"os": "RHEL 9"}
    assert record.sources == {"os": "api"}


def test_identifier_change_reindexes(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1", identifiers={"serial": "OLD-1"})], context=context)

    store.upsert_cis([ci("srv-1", identifiers={"serial": "NEW-1"})], context=context)

    assert store.find_cis("OLD-1") == []
    assert [r.key for r in store.find_cis("NEW-1")] == ["srv-1"]


def test_get_cis_returns_known_keys(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci(f"srv-{n}") for n in range(3)], context=context)

    found = store.get_cis(["srv-0", "srv-2", "nope"])

    assert set(found) == {"srv-0", "srv-2"}
    assert found["srv-2"].key == "srv-2"
    assert store.get_ci("nope") is None


def test_status_change_is_update(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1")], context=context)

    result = store.upsert_cis([ci("srv-1", status=Status.MAINTENANCE)], context=context)

    assert result.updated == 1
    record = store.get_ci("srv-1")
    assert record is not None
    assert record.status is Status.MAINTENANCE
