"""merge_ci: what an update that gives only some fields keeps of the stored CI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from cmdb.model import CIInput, CIRecord, Criticality, Identifiers, Status
from cmdb.model.ci import merge_ci

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _stored(**fields: Any) -> CIRecord:
    values: dict[str, Any] = {
        "key": "mon-icu-2",
        "ci_class": "MedicalDevice",
        "name": "ICU bed 2 monitor",
        "status": Status.IN_SERVICE,
        "criticality": Criticality.LIFE_CRITICAL,
        "identifiers": Identifiers(serial="SN-42", macs=["00:1a:2b:3c:4d:5e"], hostname="mon-icu-2"),
        "attributes": {"manufacturer": "Philips", "model": "MX800", "patient_connected": True},
        "tags": ["icu", "monitoring"],
        "sources": {},
        "version": 3,
        "first_seen": NOW,
        "last_seen": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return CIRecord(**values)


def _update(**fields: Any) -> CIInput:
    return CIInput.model_validate(
        {"key": "mon-icu-2", "ci_class": "MedicalDevice", "name": "Bed 2", **fields}
    )


def test_new_ci_takes_model_defaults() -> None:
    update = _update()

    merged = merge_ci(None, update)

    assert merged is update
    assert merged.criticality is Criticality.ADMINISTRATIVE
    assert merged.status is Status.IN_SERVICE


def test_fields_not_given_keep_stored_values() -> None:
    merged = merge_ci(_stored(), _update())

    assert merged.name == "Bed 2"
    assert merged.criticality is Criticality.LIFE_CRITICAL
    assert merged.status is Status.IN_SERVICE
    assert merged.attributes == {"manufacturer": "Philips", "model": "MX800", "patient_connected": True}
    assert merged.identifiers == _stored().identifiers
    assert merged.tags == ["icu", "monitoring"]


def test_given_fields_replace_stored_values() -> None:
    merged = merge_ci(_stored(), _update(criticality="patient_care", status="maintenance", tags=["spare"]))

    assert merged.criticality is Criticality.PATIENT_CARE
    assert merged.status is Status.MAINTENANCE
    assert merged.tags == ["spare"]


def test_empty_tags_list_clears_tags() -> None:
    merged = merge_ci(_stored(), _update(tags=[]))

    assert merged.tags == []


def test_attributes_merge_by_name() -> None:
    merged = merge_ci(_stored(), _update(attributes={"model": "MX850", "bed": "2", "manufacturer": None}))

    assert merged.attributes == {"model": "MX850", "bed": "2", "patient_connected": True}


def test_null_for_absent_attribute_is_ignored() -> None:
    merged = merge_ci(_stored(), _update(attributes={"software_version": None}))

    assert merged.attributes == _stored().attributes


def test_attribute_defaults_do_not_override_stored() -> None:
    stored = _stored(
        key="grp-ehr",
        ci_class="RedundancyGroup",
        name="EHR cluster",
        attributes={"min_healthy": 2},
        identifiers=Identifiers(),
    )
    update = CIInput(key="grp-ehr", ci_class="RedundancyGroup", name="EHR app cluster")

    merged = merge_ci(stored, update)

    assert update.attributes == {"min_healthy": 1}
    assert merged.attributes == {"min_healthy": 2}


def test_identifiers_merge_by_kind() -> None:
    merged = merge_ci(_stored(), _update(identifiers={"serial": "SN-43", "ips": ["10.1.2.3"]}))

    assert merged.identifiers.serial == "SN-43"
    assert merged.identifiers.ips == ["10.1.2.3"]
    assert merged.identifiers.macs == ["00:1a:2b:3c:4d:5e"]
    assert merged.identifiers.hostname == "mon-icu-2"


def test_given_mac_list_replaces_macs() -> None:
    merged = merge_ci(_stored(), _update(identifiers={"macs": ["00-1A-2B-3C-4D-5F"]}))

    assert merged.identifiers.macs == ["00:1a:2b:3c:4d:5f"]
    assert merged.identifiers.serial == "SN-42"


def test_null_identifier_clears_that_kind() -> None:
    merged = merge_ci(_stored(), _update(identifiers={"hostname": None}))

    assert merged.identifiers.hostname is None
    assert merged.identifiers.serial == "SN-42"


def test_stored_version_is_expected() -> None:
    assert merge_ci(_stored(), _update()).version == 3


def test_given_version_is_kept() -> None:
    assert merge_ci(_stored(), _update(version=2)).version == 2


def test_reclassification_keeps_compatible_attributes() -> None:
    update = CIInput(key="mon-icu-2", ci_class="Workstation", name="Bed 2 PC", attributes={"os": "Windows"})

    merged = merge_ci(_stored(), update)

    assert merged.ci_class == "Workstation"
    assert merged.criticality is Criticality.LIFE_CRITICAL
    assert merged.attributes["os"] == "Windows"
    assert merged.attributes["manufacturer"] == "Philips"


def test_reclassification_with_mistyped_attribute_raises() -> None:
    stored = _stored(ci_class="Server", attributes={"kind": "blade"}, identifiers=Identifiers())
    update = CIInput(key="mon-icu-2", ci_class="Location", name="Bay 2")

    with pytest.raises(ValidationError) as caught:
        merge_ci(stored, update)

    assert [error["loc"] for error in caught.value.errors()] == [("attributes", "kind")]


def test_merge_result_is_unchanged_for_same_values() -> None:
    stored = _stored()
    update = _update(name=stored.name)

    merged = merge_ci(stored, update)

    assert merged.model_dump(exclude={"version"}) == {
        "key": stored.key,
        "ci_class": stored.ci_class,
        "name": stored.name,
        "status": stored.status,
        "criticality": stored.criticality,
        "identifiers": stored.identifiers.model_dump(),
        "attributes": stored.attributes,
        "tags": stored.tags,
    }
