"""Relationship upserts and reads: missing CIs, idempotency, versions and direction filters."""

from __future__ import annotations

import pytest

from cmdb.model import ChangeContext, Direction, Origin, Strength
from cmdb.store.base import CINotFoundError, GraphStore, RejectedRowsError
from tests.conformance.factories import ci, rel
from tests.reference import load_hospital


@pytest.fixture
def three_servers(store: GraphStore, context: ChangeContext) -> GraphStore:
    store.upsert_cis([ci("app-1", "Application"), ci("vm-1", "VirtualMachine"), ci("esx-1")], context=context)
    return store


def test_import_twice_is_unchanged(hospital: GraphStore, context: ChangeContext) -> None:
    _, relationships = load_hospital()
    counts_before = hospital.counts()

    result = hospital.upsert_relationships(relationships, context=context)

    assert (result.added, result.updated, result.unchanged) == (0, 0, len(relationships))
    assert hospital.counts() == counts_before
    assert counts_before["relationships"] == len(relationships)


def test_missing_ci_rejected_others_written(three_servers: GraphStore, context: ChangeContext) -> None:
    batch = [
        rel("app-1", "RUNS_ON", "vm-1"),
        rel("app-1", "DEPENDS_ON", "db-ghost"),
        rel("vm-1", "HOSTED_ON", "esx-1"),
    ]

    result = three_servers.upsert_relationships(batch, context=context)

    assert result.added == 2
    assert [r.index for r in result.rejected] == [1]
    assert "db-ghost" in result.rejected[0].message
    types = {r.type for r in three_servers.relationships("vm-1", direction=Direction.BOTH)}
    assert types == {"RUNS_ON", "HOSTED_ON"}
    assert three_servers.relationships("app-1", direction=Direction.OUTGOING, types=["DEPENDS_ON"]) == []


def test_missing_ci_strict_writes_nothing(three_servers: GraphStore, context: ChangeContext) -> None:
    counts_before = three_servers.counts()
    batch = [rel("app-1", "RUNS_ON", "vm-1"), rel("ghost-a", "DEPENDS_ON", "ghost-b")]

    with pytest.raises(RejectedRowsError) as raised:
        three_servers.upsert_relationships(batch, context=context, strict=True)

    assert [r.index for r in raised.value.rejected] == [1]
    assert "ghost-a" in raised.value.rejected[0].message
    assert "ghost-b" in raised.value.rejected[0].message
    assert three_servers.counts() == counts_before
    assert three_servers.relationships("app-1", direction=Direction.BOTH) == []


def test_retired_ci_accepted(three_servers: GraphStore, context: ChangeContext) -> None:
    three_servers.retire_ci("esx-1", expected_version=None, context=context)

    result = three_servers.upsert_relationships([rel("vm-1", "HOSTED_ON", "esx-1")], context=context)

    assert result.added == 1
    assert result.rejected == []


def test_property_change_bumps_version(three_servers: GraphStore) -> None:
    importer = ChangeContext(actor="importer", origin=Origin.IMPORT, request_id="req-a")
    editor = ChangeContext(actor="bob", origin=Origin.API, request_id="req-b")
    three_servers.upsert_relationships([rel("vm-1", "HOSTED_ON", "esx-1")], context=importer)

    result = three_servers.upsert_relationships(
        [rel("vm-1", "HOSTED_ON", "esx-1", strength="soft")], context=editor
    )

    assert (result.added, result.updated, result.unchanged) == (0, 1, 0)
    [stored] = three_servers.relationships("vm-1", direction=Direction.OUTGOING)
    assert stored.properties == {"strength": "soft"}
    assert stored.version == 2
    history = [v for v in three_servers.versions("vm-1") if v.entity == "relationship"]
    assert [(v.key, v.version, v.operation) for v in history] == [
        ("vm-1|HOSTED_ON|esx-1", 1, "create"),
        ("vm-1|HOSTED_ON|esx-1", 2, "update"),
    ]
    assert [(v.actor, v.origin, v.request_id) for v in history] == [
        ("importer", "import", "req-a"),
        ("bob", "api", "req-b"),
    ]
    assert history[1].snapshot["properties"] == {"strength": "soft"}
    assert history[0].valid_to == history[1].valid_from


def test_strength_change_changes_impact(three_servers: GraphStore, context: ChangeContext) -> None:
    three_servers.upsert_relationships([rel("vm-1", "HOSTED_ON", "esx-1")], context=context)
    [hard] = three_servers.impact_closure(["esx-1"]).edges

    three_servers.upsert_relationships([rel("vm-1", "HOSTED_ON", "esx-1", strength="soft")], context=context)
    [soft] = three_servers.impact_closure(["esx-1"]).edges

    assert (hard.source, hard.target, hard.strength) == ("esx-1", "vm-1", Strength.HARD)
    assert (soft.source, soft.target, soft.strength) == ("esx-1", "vm-1", Strength.SOFT)


def test_duplicate_relationship_in_batch_rejected(three_servers: GraphStore, context: ChangeContext) -> None:
    batch = [rel("vm-1", "HOSTED_ON", "esx-1"), rel("vm-1", "HOSTED_ON", "esx-1", strength="soft")]

    result = three_servers.upsert_relationships(batch, context=context)

    assert result.added == 1
    assert [(r.index, r.key) for r in result.rejected] == [(1, "vm-1|HOSTED_ON|esx-1")]
    [stored] = three_servers.relationships("vm-1", direction=Direction.OUTGOING)
    assert stored.properties == {}


def test_relationships_by_direction_and_type(hospital: GraphStore) -> None:
    outgoing = hospital.relationships("vm-ehr-app-1", direction=Direction.OUTGOING)
    incoming = hospital.relationships("vm-ehr-app-1", direction=Direction.INCOMING)
    both = hospital.relationships("vm-ehr-app-1", direction=Direction.BOTH)
    hosted = hospital.relationships("vm-ehr-app-1", direction=Direction.BOTH, types=["HOSTED_ON"])

    assert outgoing
    assert {r.source for r in outgoing} == {"vm-ehr-app-1"}
    assert incoming == []
    assert both == outgoing
    assert [(r.source, r.type, r.target) for r in hosted] == [("vm-ehr-app-1", "HOSTED_ON", "grp-esx")]


def test_relationships_sorted(hospital: GraphStore) -> None:
    both = hospital.relationships("grp-ehr-app", direction=Direction.BOTH)

    identities = [(r.source, r.type, r.target) for r in both]
    assert identities == sorted(identities)
    assert ("vm-ehr-app-1", "MEMBER_OF", "grp-ehr-app") in identities
    assert ("app-ehr", "RUNS_ON", "grp-ehr-app") in identities


def test_relationships_unknown_ci_raises(store: GraphStore) -> None:
    with pytest.raises(CINotFoundError):
        store.relationships("ghost", direction=Direction.BOTH)


def test_relationships_unknown_type_raises(hospital: GraphStore) -> None:
    with pytest.raises(ValueError, match="NOT_A_TYPE"):
        hospital.relationships("sw-core-1", direction=Direction.BOTH, types=["NOT_A_TYPE"])
