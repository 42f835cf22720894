"""Reading and mapping of FHIR R4 resources, on the official examples and the PoCD patient monitor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cmdb.imports import ImportFileError
from cmdb.imports.fhir import (
    ReadResult,
    read_json_text,
    read_paths,
    read_xml_bytes,
    resolve_reference,
    transform,
)
from cmdb.imports.fhir_mapping import merge_channels
from cmdb.imports.models import ParsedImport

FHIR_DIR = Path(__file__).parent.parent / "data" / "fhir"
POCD_DIR = FHIR_DIR / "pocd"
MONITOR = "fhir-device-PhysioMonitorMdsDevice"


def _parse_json(document: dict[str, Any], file: str = "x.json") -> ParsedImport:
    into = ReadResult([], {}, ParsedImport())
    read_json_text(json.dumps(document), file=file, into=into)
    transform(into.entries, into.full_urls, into.parsed)
    return into.parsed


def _edges(parsed: ParsedImport, rel_type: str) -> set[tuple[str, str]]:
    return {
        (row.relationship.source, row.relationship.target)
        for row in parsed.relationships
        if row.relationship.type == rel_type
    }


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("Device/1", ("Device", "1")),
        ("Device/1/_history/2", ("Device", "1")),
        ("https://example.org/fhir/Location/ward-3", ("Location", "ward-3")),
        ("#contained", None),
        ("urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", None),
        ("nonsense", None),
    ],
)
def test_resolve_reference(reference: str, expected: tuple[str, str] | None) -> None:
    assert resolve_reference(reference, {}) == expected


def test_resolve_reference_bundle_full_url() -> None:
    full_urls = {"urn:uuid:1": ("Device", "pump")}

    assert resolve_reference("urn:uuid:1", full_urls) == ("Device", "pump")


def test_pocd_containment_tree() -> None:
    parsed = read_paths(sorted(POCD_DIR.glob("*.xml")))

    assert parsed.rejected == []
    assert _edges(parsed, "DEPENDS_ON") == {
        ("fhir-device-BloodPressureVmdDevice", MONITOR),
        ("fhir-device-ECGVmdDevice", MONITOR),
        ("fhir-device-NBPVmdDevice", MONITOR),
        ("fhir-device-BloodPressureChannelDevice", "fhir-device-BloodPressureVmdDevice"),
        ("fhir-device-ECGChannelDevice", "fhir-device-ECGVmdDevice"),
        ("fhir-device-HeartRateChannelDevice", "fhir-device-ECGVmdDevice"),
        ("fhir-device-NBPChannelDevice", "fhir-device-NBPVmdDevice"),
    }
    assert _edges(parsed, "LOCATED_IN") == {(MONITOR, "fhir-location-SomeLocation")}


def test_pocd_monitor_fields() -> None:
    parsed = read_paths(sorted(POCD_DIR.glob("*.xml")))
    row = next(row for row in parsed.cis if row.ci.key == MONITOR)
    monitor = row.ci

    assert monitor.ci_class == "MedicalDevice"
    assert monitor.name == "MyPhysioMonitor"
    assert monitor.status == "in_service"
    assert "criticality" not in monitor.model_fields_set
    assert row.defaults == {"criticality": "patient_care"}
    assert monitor.identifiers.serial == "123456"
    assert monitor.identifiers.udi_di == "00012345678905"
    assert monitor.attributes["manufacturer"] == "MyCompany"
    assert monitor.attributes["model"] == "PM1"
    assert monitor.attributes["patient_connected"] is True


def test_pocd_metrics_become_channels_of_source() -> None:
    parsed = read_paths(sorted(POCD_DIR.glob("*.xml")))

    assert {row.device_key for row in parsed.channels} == {MONITOR}
    assert {row.channel["metric_id"] for row in parsed.channels} == {
        "CVPSampleArrayDeviceMetric",
        "ECGSampleArrayDeviceMetric",
        "HeartRateNumericDeviceMetric",
        "NBPNumericDeviceMetric",
        "RhythmStatusEnumerationDeviceMetric",
    }
    heart_rate = next(r.channel for r in parsed.channels if r.channel["metric_id"].startswith("HeartRate"))
    assert heart_rate == {
        "metric_id": "HeartRateNumericDeviceMetric",
        "type_code": "147842",
        "type_display": "HR",
        "unit": "bpm",
        "category": "measurement",
        "operational_status": "on",
        "channel_device": "fhir-device-HeartRateChannelDevice",
    }


def test_pocd_bed_location() -> None:
    parsed = read_paths([POCD_DIR / "Location-SomeLocation.xml"])

    (row,) = parsed.cis
    assert row.ci.ci_class == "Location"
    assert row.ci.name == "Bed 42"
    assert row.ci.attributes["kind"] == "bed"
    assert row.ref.line == 2


def test_xml_rows_carry_line() -> None:
    parsed = read_paths([POCD_DIR / "Device-ECGVmdDevice.xml"])

    (row,) = parsed.relationships
    assert str(row.ref) == f"{POCD_DIR / 'Device-ECGVmdDevice.xml'} line 2 (Device/ECGVmdDevice parent)"


def test_malformed_xml_names_line() -> None:
    into = ReadResult([], {}, ParsedImport())
    data = b'<?xml version="1.0"?>\n<Device xmlns="http://hl7.org/fhir">\n  <id value="x"/>\n</Devic>\n'

    with pytest.raises(ImportFileError, match="invalid XML") as caught:
        read_xml_bytes(data, file="bad.xml", into=into)

    assert caught.value.line == 4


def test_xml_outside_fhir_namespace_raises() -> None:
    into = ReadResult([], {}, ParsedImport())

    with pytest.raises(ImportFileError, match="not a FHIR resource"):
        read_xml_bytes(b"<Device><id value='x'/></Device>", file="x.xml", into=into)


def test_json_without_resource_type_raises() -> None:
    into = ReadResult([], {}, ParsedImport())

    with pytest.raises(ImportFileError, match="no resourceType"):
        read_json_text('{"id": "x"}', file="x.json", into=into)


def test_device_status_mapping() -> None:
    statuses = {
        "active": "in_service",
        "inactive": "retired",
        "entered-in-error": "retired",
        "unknown": "unverified",
    }
    for fhir_status, expected in statuses.items():
        parsed = _parse_json({"resourceType": "Device", "id": "d", "status": fhir_status})

        assert parsed.cis[0].ci.status == expected, fhir_status


def test_endpoint_mapping_leaves_header_out() -> None:
    parsed = read_paths([FHIR_DIR / "r4" / "Endpoint-example.json"])

    (row,) = parsed.cis
    assert row.ci.ci_class == "Integration"
    assert row.ci.attributes["protocol"] == "hl7-fhir-rest"
    assert row.ci.attributes["address"] == "http://fhir3.healthintersections.com.au/open/CarePlan"
    assert "BASGS534s4" not in json.dumps(row.ci.attributes)


def test_healthcare_service_links() -> None:
    parsed = read_paths(
        [FHIR_DIR / "r4" / name for name in ("HealthcareService-example.json", "Organization-f001.json")]
    )

    service = next(row.ci for row in parsed.cis if row.ci.key == "fhir-healthcareservice-example")
    assert service.ci_class == "Service"
    assert _edges(parsed, "OWNED_BY") == {("fhir-healthcareservice-example", "fhir-organization-f001")}
    assert _edges(parsed, "LOCATED_IN") == {("fhir-healthcareservice-example", "fhir-location-1")}


def test_bundle_resolves_full_urls() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:aaaa",
                "resource": {"resourceType": "Location", "name": "Ward 3", "status": "active"},
            },
            {
                "fullUrl": "urn:uuid:bbbb",
                "resource": {
                    "resourceType": "Device",
                    "id": "pump-7",
                    "status": "active",
                    "location": {"reference": "urn:uuid:aaaa"},
                },
            },
        ],
    }
    parsed = _parse_json(bundle, file="bundle.json")

    assert {row.ci.key for row in parsed.cis} == {"fhir-location-aaaa", "fhir-device-pump-7"}
    assert _edges(parsed, "LOCATED_IN") == {("fhir-device-pump-7", "fhir-location-aaaa")}
    assert str(parsed.cis[1].ref) == "bundle.json entry[1] (Device/pump-7)"


def test_bundle_invalid_entry_rejected_alone() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Device", "id": "ok"}},
            {"resource": {"resourceType": "Device", "id": "bad", "serialNumber": {"nested": True}}},
        ],
    }
    parsed = _parse_json(bundle)

    assert [row.ci.key for row in parsed.cis] == ["fhir-device-ok"]
    (rejected,) = parsed.rejected
    assert rejected.ref.index == 1
    assert rejected.reason.startswith("invalid Device: serialNumber")


def test_unsupported_type_skipped() -> None:
    parsed = read_paths([FHIR_DIR / "r4" / "DeviceDefinition-example.json"])

    assert parsed.cis == []
    (skipped,) = parsed.skipped
    assert skipped.reason.startswith("DeviceDefinition resources are not imported")


def test_unknown_type_rejected() -> None:
    parsed = _parse_json({"resourceType": "Gadget", "id": "g"})

    (rejected,) = parsed.rejected
    assert "unknown FHIR resource type 'Gadget'" in rejected.reason


def test_reference_of_wrong_type_rejected() -> None:
    parsed = _parse_json({"resourceType": "Device", "id": "d", "parent": {"reference": "Location/1"}})

    (rejected,) = parsed.rejected
    assert rejected.entity == "relationship"
    assert "Device.parent reference 'Location/1' does not name a Device" in rejected.reason


def test_metric_without_source_rejected() -> None:
    metric = {"resourceType": "DeviceMetric", "id": "m", "type": {"text": "SpO2"}, "category": "measurement"}
    parsed = _parse_json(metric)

    (rejected,) = parsed.rejected
    assert "DeviceMetric.source None does not name a Device" in rejected.reason


def test_merge_channels_replaces_by_metric_id() -> None:
    existing = [{"metric_id": "b", "unit": "bpm"}, {"metric_id": "a", "unit": "%"}]
    new = [{"metric_id": "b", "unit": "1/min"}, {"metric_id": "c"}]

    assert merge_channels(existing, new) == [
        {"metric_id": "a", "unit": "%"},
        {"metric_id": "b", "unit": "1/min"},
        {"metric_id": "c"},
    ]


def test_json_duplicate_key_rejected_with_line() -> None:
    text = '{"resourceType": "Device",\n "id": "pump-1",\n "id": "pump-2"}\n'

    with pytest.raises(ImportFileError) as caught:
        read_json_text(text, file="device.json", into=ReadResult([], {}, ParsedImport()))

    assert str(caught.value) == (
        "device.json line 3: duplicate key 'id' in a JSON object; remove one of the two members or rename it"
    )


def test_device_without_status_is_unverified_on_creation_only() -> None:
    parsed = _parse_json({"resourceType": "Device", "id": "pump-1"})

    (row,) = parsed.cis
    assert "status" not in row.ci.model_fields_set
    assert row.defaults == {"status": "unverified", "criticality": "patient_care"}
