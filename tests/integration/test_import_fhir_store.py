"""FHIR imports into a real SQLite store: every example file, the PoCD monitor tree and its channels."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cmdb.imports import ImportFormat, import_file
from cmdb.model import ChangeContext, Direction, Origin
from cmdb.store.base import GraphStore

CONTEXT = ChangeContext(actor="importer-test", origin=Origin.IMPORT)
MONITOR = "fhir-device-PhysioMonitorMdsDevice"
VMDS = {"fhir-device-BloodPressureVmdDevice", "fhir-device-ECGVmdDevice", "fhir-device-NBPVmdDevice"}
CHANNEL_DEVICES = {
    "fhir-device-BloodPressureChannelDevice",
    "fhir-device-ECGChannelDevice",
    "fhir-device-HeartRateChannelDevice",
    "fhir-device-NBPChannelDevice",
}
POCD_METRICS = {
    "CVPSampleArrayDeviceMetric",
    "ECGSampleArrayDeviceMetric",
    "HeartRateNumericDeviceMetric",
    "NBPNumericDeviceMetric",
    "RhythmStatusEnumerationDeviceMetric",
}


@pytest.fixture
def fhir_dir(data_dir: Path) -> Path:
    return data_dir / "fhir"


@pytest.mark.parametrize(
    "name",
    sorted(
        p.relative_to(Path(__file__).parent.parent / "data" / "fhir").as_posix()
        for p in (Path(__file__).parent.parent / "data" / "fhir").rglob("*")
        if p.suffix in {".json", ".xml"}
    ),
)
def test_every_file_imports(sqlite_store: GraphStore, fhir_dir: Path, name: str) -> None:
    report = import_file(store=sqlite_store, path=fhir_dir / name, context=CONTEXT)

    assert report.format is ImportFormat.FHIR
    assert report.files == [str(fhir_dir / name)]
    # Each example file holds one resource: a CI, a skipped type, or a metric whose device is elsewhere.
    assert report.cis.accepted + len(report.skipped) + report.cis.rejected == 1


def test_folder_import_counts(sqlite_store: GraphStore, fhir_dir: Path) -> None:
    report = import_file(store=sqlite_store, path=fhir_dir, context=CONTEXT)

    assert len(report.files) == 39
    assert report.cis.added == 32
    assert report.relationships.added == 11
    assert sqlite_store.counts()["cis"] == 32
    assert sqlite_store.counts()["relationships"] == 11
    assert [s.ref.row_id for s in report.skipped] == ["DeviceDefinition/example"]


def test_metric_for_unknown_device_rejected(sqlite_store: GraphStore, fhir_dir: Path) -> None:
    report = import_file(store=sqlite_store, path=fhir_dir, context=CONTEXT)

    (rejected,) = report.rejected
    assert rejected.ref.row_id == "DeviceMetric/example"
    assert "Device/dev1" in rejected.reason
    assert "neither in this import nor in the store" in rejected.reason


def test_monitor_components_depend_on_it(sqlite_store: GraphStore, fhir_dir: Path) -> None:
    import_file(store=sqlite_store, path=fhir_dir / "pocd", context=CONTEXT)

    direct = sqlite_store.neighbours(MONITOR, depth=1, direction=Direction.INCOMING, types=["DEPENDS_ON"])
    both = sqlite_store.neighbours(MONITOR, depth=2, direction=Direction.INCOMING, types=["DEPENDS_ON"])

    assert {n.ci.key for n in direct} == VMDS
    assert {n.ci.key for n in both} == VMDS | CHANNEL_DEVICES
    assert {n.ci.key for n in both if n.distance == 2} == CHANNEL_DEVICES


def test_monitor_in_location_chain(sqlite_store: GraphStore, fhir_dir: Path) -> None:
    import_file(store=sqlite_store, path=fhir_dir / "pocd", context=CONTEXT)

    located = sqlite_store.relationships(MONITOR, direction=Direction.OUTGOING, types=["LOCATED_IN"])

    assert [r.target for r in located] == ["fhir-location-SomeLocation"]
    bed = sqlite_store.get_ci("fhir-location-SomeLocation")
    assert bed is not None
    assert bed.attributes["kind"] == "bed"


def test_metrics_listed_as_channels(sqlite_store: GraphStore, fhir_dir: Path) -> None:
    import_file(store=sqlite_store, path=fhir_dir / "pocd", context=CONTEXT)

    monitor = sqlite_store.get_ci(MONITOR)
    assert monitor is not None
    assert {c["metric_id"] for c in monitor.attributes["channels"]} == POCD_METRICS
    for key in VMDS | CHANNEL_DEVICES:
        component = sqlite_store.get_ci(key)
        assert component is not None
        assert "channels" not in component.attributes, key


def test_pocd_reimport_unchanged(sqlite_store: GraphStore, fhir_dir: Path) -> None:
    first = import_file(store=sqlite_store, path=fhir_dir / "pocd", context=CONTEXT)
    counts_before = sqlite_store.counts()

    again = import_file(store=sqlite_store, path=fhir_dir / "pocd", context=CONTEXT)

    assert (first.cis.added, first.relationships.added) == (9, 8)
    assert (again.cis.added, again.cis.updated, again.cis.unchanged) == (0, 0, 9)
    assert (again.relationships.added, again.relationships.updated, again.relationships.unchanged) == (
        0,
        0,
        8,
    )
    assert again.rejected == []
    assert sqlite_store.counts() == counts_before


def test_folder_reimport_unchanged(sqlite_store: GraphStore, fhir_dir: Path) -> None:
    import_file(store=sqlite_store, path=fhir_dir, context=CONTEXT)

    again = import_file(store=sqlite_store, path=fhir_dir, context=CONTEXT)

    assert (again.cis.added, again.cis.updated, again.cis.unchanged) == (0, 0, 32)
    assert (again.relationships.added, again.relationships.updated) == (0, 0)


def test_metric_updates_stored_device(sqlite_store: GraphStore, fhir_dir: Path, tmp_path: Path) -> None:
    devices = tmp_path / "devices"
    metrics = tmp_path / "metrics"
    devices.mkdir()
    metrics.mkdir()
    for path in (fhir_dir / "pocd").glob("*.xml"):
        shutil.copy(path, metrics if path.name.startswith("DeviceMetric-") else devices)
    import_file(store=sqlite_store, path=devices, context=CONTEXT)

    report = import_file(store=sqlite_store, path=metrics, context=CONTEXT)

    assert (report.cis.added, report.cis.updated) == (0, 1)
    monitor = sqlite_store.get_ci(MONITOR)
    assert monitor is not None
    assert {c["metric_id"] for c in monitor.attributes["channels"]} == POCD_METRICS


def test_device_reimport_keeps_channels(sqlite_store: GraphStore, fhir_dir: Path) -> None:
    import_file(store=sqlite_store, path=fhir_dir / "pocd", context=CONTEXT)

    report = import_file(
        store=sqlite_store, path=fhir_dir / "pocd" / "Device-PhysioMonitorMdsDevice.xml", context=CONTEXT
    )

    assert report.cis.unchanged == 1
    monitor = sqlite_store.get_ci(MONITOR)
    assert monitor is not None
    assert len(monitor.attributes["channels"]) == 5


def test_reference_outside_import_rejected(sqlite_store: GraphStore, fhir_dir: Path) -> None:
    counts_before = sqlite_store.counts()

    report = import_file(store=sqlite_store, path=fhir_dir / "r4" / "Location-2.json", context=CONTEXT)

    assert report.cis.added == 1
    (rejected,) = report.rejected
    assert rejected.entity == "relationship"
    assert "Location/1" in rejected.reason
    assert "neither in this import nor in the store" in rejected.reason
    assert sqlite_store.counts()["cis"] == counts_before["cis"] + 1
    assert sqlite_store.counts()["relationships"] == counts_before["relationships"]


def test_reference_found_in_store(sqlite_store: GraphStore, fhir_dir: Path) -> None:
    import_file(store=sqlite_store, path=fhir_dir / "r4" / "Location-1.json", context=CONTEXT)

    report = import_file(store=sqlite_store, path=fhir_dir / "r4" / "Location-2.json", context=CONTEXT)

    assert report.rejected == []
    assert report.relationships.added == 1
