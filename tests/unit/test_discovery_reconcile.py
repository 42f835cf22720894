"""Reconciliation of discovered CIs and relationship properties with stored ones, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

from cmdb.discovery.identify import DiscoveredCI, Identity
from cmdb.discovery.reconcile import matches, merge_ci, merge_relationship_properties
from cmdb.model import CIRecord, Criticality, Identifiers, Status

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def discovered(**attributes: object) -> DiscoveredCI:
    return DiscoveredCI(
        ref="10.0.0.5:161",
        key="snmp:mac:00:11:22:33:44:55",
        ci_class="NetworkDevice",
        name="sw5",
        identities=[Identity("chassis_mac", "00:11:22:33:44:55")],
        identifiers=Identifiers(macs=["00:11:22:33:44:55"], ips=["10.0.0.5"], serial="S1"),
        attributes=dict(attributes),
        scope="10.0.0.5:161",
    )


def stored(
    attributes: dict[str, object], sources: dict[str, str], status: Status = Status.IN_SERVICE
) -> CIRecord:
    return CIRecord(
        key="core-sw5",
        ci_class="NetworkDevice",
        name="Core switch 5",
        status=status,
        criticality=Criticality.PATIENT_CARE,
        identifiers=Identifiers(macs=["00:11:22:33:44:55"], ips=["10.9.9.9"]),
        attributes=attributes,
        tags=["core"],
        sources=sources,
        version=3,
        first_seen=NOW,
        last_seen=NOW,
        updated_at=NOW,
    )


def test_new_ci_is_unverified() -> None:
    merged = merge_ci(discovered(vendor="Eltex"), None)
    assert merged.ci.key == "snmp:mac:00:11:22:33:44:55"
    assert merged.ci.status is Status.UNVERIFIED
    assert merged.ci.attributes == {"vendor": "Eltex"}
    assert merged.disagreements == []


def test_curated_attribute_kept_and_reported() -> None:
    record = stored(
        {"sys_location": "Core room 1", "vendor": "old"}, {"sys_location": "api", "vendor": "discovery:r1"}
    )
    merged = merge_ci(discovered(sys_location="Lab", vendor="Eltex"), record)
    assert merged.ci.attributes == {"sys_location": "Core room 1", "vendor": "Eltex"}
    [disagreement] = merged.disagreements
    assert disagreement.field == "attributes.sys_location"
    assert disagreement.stored == "Core room 1"
    assert disagreement.discovered == "Lab"
    assert disagreement.source == "api"


def test_stored_fields_kept_on_update() -> None:
    merged = merge_ci(discovered(vendor="Eltex"), stored({}, {}))
    assert merged.ci.key == "core-sw5"
    assert merged.ci.name == "Core switch 5"
    assert merged.ci.status is Status.IN_SERVICE
    assert merged.ci.criticality is Criticality.PATIENT_CARE
    assert merged.ci.tags == ["core"]
    assert merged.ci.version == 3
    assert merged.ci.identifiers.ips == ["10.0.0.5", "10.9.9.9"]
    assert merged.ci.identifiers.serial == "S1"


def test_fact_no_longer_reported_removed() -> None:
    record = stored(
        {"neighbours": [{"port": "1"}], "owner": "net"}, {"neighbours": "discovery:r1", "owner": "import"}
    )
    merged = merge_ci(discovered(), record)
    assert merged.ci.attributes == {"owner": "net"}


def test_stale_ci_seen_again_unverified() -> None:
    merged = merge_ci(discovered(), stored({}, {}, status=Status.STALE))
    assert merged.ci.status is Status.UNVERIFIED


def test_identity_matching() -> None:
    record = stored({}, {})
    assert matches(Identity("mac", "00:11:22:33:44:55"), record)
    assert not matches(Identity("serial", "S1"), record)
    assert not matches(Identity("hostname_ip", "sw5", "10.9.9.9"), record)


def test_new_link_marked_as_discovered() -> None:
    properties, disagreements = merge_relationship_properties(
        {"port": "gi1/0/6", "if_index": 54, "vlan": None}, None, ci_key="a", relationship="CONNECTS_TO b"
    )
    assert properties == {
        "port": "gi1/0/6",
        "if_index": 54,
        "discovered": ["if_index", "port"],
        "origin": "discovery",
    }
    assert disagreements == []


def test_soft_link_stays_soft() -> None:
    curated = {"strength": "soft", "port": "gi1/0/9"}
    properties, disagreements = merge_relationship_properties(
        {"port": "gi1/0/6", "if_index": 54}, curated, ci_key="monitor-1", relationship="CONNECTS_TO sw22"
    )
    assert properties == {"strength": "soft", "port": "gi1/0/9", "if_index": 54, "discovered": ["if_index"]}
    [disagreement] = disagreements
    assert disagreement.ci_key == "monitor-1"
    assert disagreement.field == "relationship CONNECTS_TO sw22.port"


def test_discovered_link_unchanged_on_rerun() -> None:
    first, _ = merge_relationship_properties({"port": "p1"}, None, ci_key="a", relationship="CONNECTS_TO b")
    second, disagreements = merge_relationship_properties(
        {"port": "p1"}, first, ci_key="a", relationship="CONNECTS_TO b"
    )
    assert second == first
    assert disagreements == []
