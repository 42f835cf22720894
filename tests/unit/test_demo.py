"""The demo hospital generator: determinism, shape, validity and size."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from cmdb.demo import BENCH_SCALE, DemoHospital, generate_hospital, scale_for, validate_hospital
from cmdb.demo.generator import InvalidDemoGraphError
from cmdb.model import RELATIONSHIP_TYPES, CIInput, RelationshipInput


@pytest.fixture(scope="module")
def hospital() -> DemoHospital:
    return generate_hospital(seed=7, scale=1)


def _dump(hospital: DemoHospital) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    return (
        [ci.model_dump(mode="json") for ci in hospital.cis],
        [rel.model_dump(mode="json") for rel in hospital.relationships],
    )


def _by_key(hospital: DemoHospital) -> dict[str, CIInput]:
    return {ci.key: ci for ci in hospital.cis}


def _relationships_from(hospital: DemoHospital, source: str, rel_type: str) -> list[RelationshipInput]:
    return [r for r in hospital.relationships if r.source == source and r.type == rel_type]


def test_same_seed_gives_identical_output(hospital: DemoHospital) -> None:
    again = generate_hospital(seed=7, scale=1)
    assert _dump(again) == _dump(hospital)


def test_different_seed_gives_different_output(hospital: DemoHospital) -> None:
    other = generate_hospital(seed=8, scale=1)
    assert _dump(other) != _dump(hospital)


def test_keys_do_not_depend_on_seed(hospital: DemoHospital) -> None:
    other = generate_hospital(seed=8, scale=1)
    assert {ci.key for ci in other.cis} == {ci.key for ci in hospital.cis}


def test_class_counts_at_scale_one(hospital: DemoHospital) -> None:
    counts = hospital.class_counts()
    expected_ranges = {
        "Application": (9, 9),
        "ClinicalConfiguration": (5, 8),
        "Database": (1, 1),
        "Department": (24, 24),
        "Integration": (6, 6),
        "Location": (700, 1100),
        "MedicalDevice": (900, 1400),
        "NetworkDevice": (100, 200),
        "Printer": (30, 80),
        "RedundancyGroup": (10, 20),
        "Server": (8, 8),
        "Service": (7, 7),
        "Team": (6, 6),
        "VirtualMachine": (15, 20),
        "Workstation": (150, 300),
    }
    assert set(counts) == set(expected_ranges)
    for ci_class, (low, high) in expected_ranges.items():
        assert low <= counts[ci_class] <= high, f"{ci_class}: {counts[ci_class]} not in [{low}, {high}]"


def test_total_size_at_scale_one(hospital: DemoHospital) -> None:
    assert 2_000 <= len(hospital.cis) <= 4_000
    assert 3.5 <= len(hospital.relationships) / len(hospital.cis) <= 4.5


def test_every_relationship_type_used(hospital: DemoHospital) -> None:
    assert set(hospital.type_counts()) == set(RELATIONSHIP_TYPES)


def test_no_duplicate_keys(hospital: DemoHospital) -> None:
    duplicates = [key for key, n in Counter(ci.key for ci in hospital.cis).items() if n > 1]
    assert duplicates == []


def test_no_duplicate_relationships(hospital: DemoHospital) -> None:
    duplicates = [i for i, n in Counter(r.identity for r in hospital.relationships).items() if n > 1]
    assert duplicates == []


def test_every_endpoint_exists(hospital: DemoHospital) -> None:
    keys = {ci.key for ci in hospital.cis}
    missing = {end for r in hospital.relationships for end in (r.source, r.target)} - keys
    assert missing == set()


def test_rows_pass_model_validation_again(hospital: DemoHospital) -> None:
    cis, relationships = _dump(hospital)
    for row in cis:
        assert CIInput.model_validate(row).model_dump(mode="json") == row
    for row in relationships:
        assert RelationshipInput.model_validate(row).model_dump(mode="json") == row


def test_identifiers_are_unique(hospital: DemoHospital) -> None:
    serials = [ci.identifiers.serial for ci in hospital.cis if ci.identifiers.serial]
    macs = [mac for ci in hospital.cis for mac in ci.identifiers.macs]
    ips = [ip for ci in hospital.cis for ip in ci.identifiers.ips]
    assert len(serials) == len(set(serials))
    assert len(macs) == len(set(macs))
    assert len(ips) == len(set(ips))


def test_ips_are_private_ten_addresses(hospital: DemoHospital) -> None:
    ips = {ip for ci in hospital.cis for ip in ci.identifiers.ips}
    assert ips
    assert {ip.split(".")[0] for ip in ips} == {"10"}


def test_validate_rejects_missing_endpoint(hospital: DemoHospital) -> None:
    broken = DemoHospital(
        cis=hospital.cis,
        relationships=[
            *hospital.relationships,
            RelationshipInput(source="h1-icu1-mon-01", type="FEEDS", target="no-such-ci"),
        ],
    )
    with pytest.raises(InvalidDemoGraphError, match="no-such-ci"):
        validate_hospital(broken)


def test_validate_rejects_duplicate_key(hospital: DemoHospital) -> None:
    broken = DemoHospital(cis=[*hospital.cis, hospital.cis[0]], relationships=hospital.relationships)
    with pytest.raises(InvalidDemoGraphError, match="duplicate CI key"):
        validate_hospital(broken)


def test_invalid_scale_rejected() -> None:
    with pytest.raises(ValueError, match="invalid scale 0"):
        generate_hospital(scale=0)


def test_every_non_location_ci_reaches_a_site(hospital: DemoHospital) -> None:
    """Every device, switch and server sits in a location chain that ends at a site."""
    cis = _by_key(hospital)
    parent = {r.source: r.target for r in hospital.relationships if r.type == "LOCATED_IN"}
    placed_classes = {"MedicalDevice", "NetworkDevice", "Workstation", "Printer", "Server", "Location"}
    for ci in hospital.cis:
        if ci.ci_class not in placed_classes or ci.attributes.get("kind") == "site":
            continue
        key, seen = ci.key, set()
        while key in parent and key not in seen:
            seen.add(key)
            key = parent[key]
        assert cis[key].attributes.get("kind") == "site", f"{ci.key} ends at {key}"


def test_location_kinds_chain_in_order(hospital: DemoHospital) -> None:
    cis = _by_key(hospital)
    allowed = {
        "building": {"site"},
        "floor": {"building"},
        "unit": {"floor"},
        "room": {"unit", "floor"},
        "bed": {"room"},
    }
    for rel in hospital.relationships:
        source = cis[rel.source]
        if rel.type != "LOCATED_IN" or source.ci_class != "Location":
            continue
        target_kind = cis[rel.target].attributes["kind"]
        assert target_kind in allowed[source.attributes["kind"]], f"{rel.identity}"


def test_redundant_core_pairs(hospital: DemoHospital) -> None:
    cis = _by_key(hospital)
    for campus in ("h1", "h2"):
        group = f"{campus}-core-pair"
        members = {r.source for r in hospital.relationships if r.type == "MEMBER_OF" and r.target == group}
        assert members == {f"{campus}-core-sw-1", f"{campus}-core-sw-2"}
        assert cis[group].attributes["min_healthy"] == 1


def test_wireless_controller_pair(hospital: DemoHospital) -> None:
    members = {
        r.source for r in hospital.relationships if r.type == "MEMBER_OF" and r.target == "h1-wlc-pair"
    }
    assert members == {"h1-wlc-1", "h1-wlc-2"}


def test_virtualization_cluster_quorum(hospital: DemoHospital) -> None:
    cis = _by_key(hospital)
    hosts = {r.source for r in hospital.relationships if r.type == "MEMBER_OF" and r.target == "esx-cluster"}
    assert len(hosts) >= 3
    assert cis["esx-cluster"].attributes["min_healthy"] == len(hosts) - 1
    vms = [ci.key for ci in hospital.cis if ci.ci_class == "VirtualMachine"]
    for vm in vms:
        assert [r.target for r in _relationships_from(hospital, vm, "HOSTED_ON")] == ["esx-cluster"]


def test_ehr_runs_on_its_app_group(hospital: DemoHospital) -> None:
    cis = _by_key(hospital)
    targets = [r.target for r in _relationships_from(hospital, "app-ehr", "RUNS_ON")]
    assert targets == ["ehr-cluster"]
    assert cis["ehr-cluster"].ci_class == "RedundancyGroup"
    assert [r.target for r in _relationships_from(hospital, "app-ehr", "DEPENDS_ON")] == ["db-ehr"]


def test_monitor_links(hospital: DemoHospital) -> None:
    connects = _relationships_from(hospital, "h1-icu1-mon-03", "CONNECTS_TO")
    assert [r.target for r in connects] == ["h1-icu1-acc-sw-1"]
    assert connects[0].properties["strength"] == "soft"
    assert connects[0].properties["vlan"] == 110
    feeds = _relationships_from(hospital, "h1-icu1-mon-03", "FEEDS")
    assert [r.target for r in feeds] == ["h1-icu1-cs-01"]


def test_central_station_link_is_hard(hospital: DemoHospital) -> None:
    connects = _relationships_from(hospital, "h1-icu1-cs-01", "CONNECTS_TO")
    assert len(connects) == 1
    assert "strength" not in connects[0].properties
    supports = _relationships_from(hospital, "h1-icu1-cs-01", "SUPPORTS")
    assert supports[0].properties == {"strength": "hard"}


def test_pump_links_and_drug_library(hospital: DemoHospital) -> None:
    cis = _by_key(hospital)
    configured = defaultdict(list)
    for rel in hospital.relationships:
        if rel.type == "CONFIGURES":
            configured[rel.target].append(rel.source)
    pumps = [ci for ci in hospital.cis if "-pump-" in ci.key]
    assert pumps
    for pump in pumps:
        connects = _relationships_from(hospital, pump.key, "CONNECTS_TO")
        assert [r.target for r in connects] == [f"{pump.key[:2]}-wlc-pair"]
        assert connects[0].properties["strength"] == "soft"
        libraries = configured[pump.key]
        assert len(libraries) == 1
        assert cis[libraries[0]].attributes["kind"] == "drug_library"
        assert cis[libraries[0]].name == f"{pump.attributes['model']} drug library"


def test_cds_rules_configure_ehr(hospital: DemoHospital) -> None:
    cds = [ci.key for ci in hospital.cis if ci.attributes.get("kind") == "cds_rules"]
    assert len(cds) >= 3
    for key in cds:
        assert [r.target for r in _relationships_from(hospital, key, "CONFIGURES")] == ["app-ehr"]


def test_modalities_feed_pacs(hospital: DemoHospital) -> None:
    modalities = [ci for ci in hospital.cis if ci.attributes.get("fda_product_code") in {"JAK", "LNH"}]
    assert len(modalities) >= 6
    for ci in modalities:
        assert [r.target for r in _relationships_from(hospital, ci.key, "FEEDS")] == ["app-pacs"]


def test_user_devices_used_by_department_softly(hospital: DemoHospital) -> None:
    for ci in hospital.cis:
        if ci.ci_class not in {"Workstation", "Printer"}:
            continue
        used_by = _relationships_from(hospital, ci.key, "USED_BY")
        assert len(used_by) == 1, ci.key
        assert used_by[0].target.split("-dept-")[0] == ci.key[:2]
        assert used_by[0].properties == {"strength": "soft"}


def test_services_and_teams(hospital: DemoHospital) -> None:
    cis = _by_key(hospital)
    assert cis["svc-medadmin"].tags == ["medication"]
    assert cis["svc-monitoring"].criticality == "life_critical"
    assert cis["team-clininf"].attributes["notify_for_tags"] == ["medication"]
    for service in (ci.key for ci in hospital.cis if ci.ci_class == "Service"):
        assert _relationships_from(hospital, service, "USED_BY"), service
        assert len(_relationships_from(hospital, service, "OWNED_BY")) == 1, service
    hard_supporters = {
        r.source
        for r in hospital.relationships
        if r.type == "SUPPORTS" and r.properties.get("strength") == "hard"
    }
    assert {"app-ehr", "app-bcma", "app-pharm", "app-pacs", "app-lis", "app-aims"} <= hard_supporters


def test_every_device_is_managed(hospital: DemoHospital) -> None:
    managed = {r.source for r in hospital.relationships if r.type == "MANAGED_BY"}
    managed_classes = {"MedicalDevice", "NetworkDevice", "Workstation", "Printer", "Server", "VirtualMachine"}
    unmanaged = [ci.key for ci in hospital.cis if ci.ci_class in managed_classes and ci.key not in managed]
    assert unmanaged == []


def test_medical_device_macs_carry_vendor_prefix(hospital: DemoHospital) -> None:
    prefixes = {"Philips": "00:09:fb", "BD": "f8:c6:78", "Baxter": "58:46:e1", "ICU Medical": "00:03:b1"}
    for ci in hospital.cis:
        prefix = prefixes.get(ci.attributes.get("manufacturer", ""))
        if prefix is None:
            continue
        assert ci.identifiers.macs[0].startswith(prefix), ci.key


def test_medical_devices_carry_fda_attributes(hospital: DemoHospital) -> None:
    for ci in hospital.cis:
        if ci.ci_class != "MedicalDevice":
            continue
        assert ci.attributes["fda_class"] in {"I", "II", "III"}, ci.key
        assert len(ci.attributes["fda_product_code"]) == 3, ci.key
        assert ci.attributes["fda_clearance"].startswith("K"), ci.key


def test_scale_for_targets() -> None:
    assert scale_for(100_000) == BENCH_SCALE
    assert scale_for(10) == 1


def test_bench_scale_size() -> None:
    big = generate_hospital(seed=7, scale=BENCH_SCALE)

    assert 95_000 <= len(big.cis) <= 105_000
    assert 380_000 <= len(big.relationships) <= 420_000
