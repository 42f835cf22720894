"""Re-imports and upsertCIs that give only some fields update those fields and keep the rest."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from cmdb.app import create_app
from cmdb.auth import create_token
from cmdb.impact import ImpactRequest, Mode, analyze
from cmdb.imports import ImportFileError, ImportFormat, detect_format, import_file
from cmdb.model import ChangeContext, CIInput, Criticality, Origin
from cmdb.model.ci import merge_ci
from cmdb.settings import Settings
from cmdb.store.base import GraphStore

CONTEXT = ChangeContext(actor="importer-test", origin=Origin.IMPORT)
MONITOR = {
    "id": "mon-icu-2",
    "class": "MedicalDevice",
    "name": "ICU bed 2 monitor",
    "criticality": "life_critical",
    "identifiers": {"serial": "MX8-0002", "macs": ["00:09:fb:00:00:02"]},
    "attributes": {
        "manufacturer": "Philips",
        "model": "IntelliVue MX800",
        "patient_connected": True,
        "fda_class": "II",
    },
    "tags": ["icu"],
}

UPSERT_CIS = """
mutation($input: [CIInput!]!) {
  upsertCIs(input: $input) {
    __typename
    ... on UpsertResult { added updated unchanged }
    ... on ValidationFailed { message errors { field message value } }
  }
}
"""


def _write_json(path: Path, cis: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"format": "cmdb/v1", "cis": cis}), encoding="utf-8")
    return path


def _life_critical_devices(store: GraphStore) -> list[str]:
    report = analyze(store=store, request=ImpactRequest(roots={"sw-acc-icu": Mode.DOWN}))
    return report.life_critical_devices


@pytest.fixture
def monitor_store(hospital_store: GraphStore, tmp_path: Path) -> GraphStore:
    """The reference hospital with serial, MAC and tags on mon-icu-2."""
    report = import_file(
        store=hospital_store, path=_write_json(tmp_path / "monitor.json", [MONITOR]), context=CONTEXT
    )
    assert report.cis.updated == 1
    return hospital_store


def test_csv_name_only_keeps_criticality(monitor_store: GraphStore, tmp_path: Path) -> None:
    folder = tmp_path / "rename"
    folder.mkdir()
    (folder / "cis.csv").write_text("id,class,name\nmon-icu-2,MedicalDevice,ICU bed 2 monitor (MX800)\n")

    report = import_file(store=monitor_store, path=folder, context=CONTEXT)

    record = monitor_store.get_ci("mon-icu-2")
    assert record is not None
    assert report.cis.updated == 1
    assert record.name == "ICU bed 2 monitor (MX800)"
    assert record.criticality is Criticality.LIFE_CRITICAL
    assert record.attributes == MONITOR["attributes"]
    assert record.identifiers.serial == "MX8-0002"
    assert record.identifiers.macs == ["00:09:fb:00:00:02"]
    assert record.tags == ["icu"]
    assert "mon-icu-2" in _life_critical_devices(monitor_store)


def test_csv_empty_cells_keep_stored_values(monitor_store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "cis.csv"
    path.write_text(
        "id,class,name,criticality,status,attributes,identifiers,tags\n"
        "mon-icu-2,MedicalDevice,ICU bed 2 monitor,,,,,\n"
    )

    report = import_file(store=monitor_store, path=path, context=CONTEXT)

    record = monitor_store.get_ci("mon-icu-2")
    assert record is not None
    assert report.cis.unchanged == 1
    assert record.criticality is Criticality.LIFE_CRITICAL
    assert record.identifiers.serial == "MX8-0002"


def test_json_partial_row_merges(monitor_store: GraphStore, tmp_path: Path) -> None:
    row = {
        "id": "mon-icu-2",
        "class": "MedicalDevice",
        "name": "ICU bed 2 monitor",
        "attributes": {"software_version": "L.01", "patient_connected": None},
        "identifiers": {"serial": "MX8-0002B"},
    }

    report = import_file(
        store=monitor_store, path=_write_json(tmp_path / "partial.json", [row]), context=CONTEXT
    )

    record = monitor_store.get_ci("mon-icu-2")
    assert record is not None
    assert report.cis.updated == 1
    assert record.criticality is Criticality.LIFE_CRITICAL
    assert record.attributes == {
        "manufacturer": "Philips",
        "model": "IntelliVue MX800",
        "fda_class": "II",
        "software_version": "L.01",
    }
    assert record.identifiers.serial == "MX8-0002B"
    assert record.identifiers.macs == ["00:09:fb:00:00:02"]
    assert record.tags == ["icu"]
    assert "mon-icu-2" in _life_critical_devices(monitor_store)


def test_explicit_criticality_change_applies(monitor_store: GraphStore, tmp_path: Path) -> None:
    row = {
        "id": "mon-icu-2",
        "class": "MedicalDevice",
        "name": "ICU bed 2 monitor",
        "criticality": "patient_care",
    }

    import_file(store=monitor_store, path=_write_json(tmp_path / "demote.json", [row]), context=CONTEXT)

    record = monitor_store.get_ci("mon-icu-2")
    assert record is not None
    assert record.criticality is Criticality.PATIENT_CARE
    assert "mon-icu-2" not in _life_critical_devices(monitor_store)


def test_new_ci_takes_defaults(hospital_store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "cis.csv"
    path.write_text("id,class,name,criticality\nsrv-new,Server,New server,\n")

    report = import_file(store=hospital_store, path=path, context=CONTEXT)

    record = hospital_store.get_ci("srv-new")
    assert record is not None
    assert report.cis.added == 1
    assert record.criticality is Criticality.ADMINISTRATIVE


def test_reclassification_with_mistyped_attribute_rejected(
    hospital_store: GraphStore, tmp_path: Path
) -> None:
    path = tmp_path / "cis.csv"
    path.write_text('id,class,name,attributes\nsrv-x,Server,X,"{""kind"": ""blade""}"\nsrv-y,Server,Y,\n')
    import_file(store=hospital_store, path=path, context=CONTEXT)
    path.write_text("id,class,name\nsrv-x,Location,X\nsrv-y,Workstation,Y\n")

    report = import_file(store=hospital_store, path=path, context=CONTEXT)

    (rejected,) = report.rejected
    record = hospital_store.get_ci("srv-y")
    assert record is not None
    assert rejected.key == "srv-x"
    assert rejected.reason.startswith(
        "invalid once merged with the stored CI: attributes.kind: String should match"
    )
    assert record.ci_class == "Workstation"


def test_fhir_reimport_keeps_criticality(sqlite_store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "device.json"
    path.write_text(json.dumps({"resourceType": "Device", "id": "vent-1", "status": "active"}))
    import_file(store=sqlite_store, path=path, context=CONTEXT)
    created = sqlite_store.get_ci("fhir-device-vent-1")
    assert created is not None
    raised = CIInput(
        key=created.key, ci_class=created.ci_class, name=created.name, criticality="life_critical"
    )
    sqlite_store.upsert_cis([merge_ci(created, raised)], context=CONTEXT, strict=True)

    report = import_file(store=sqlite_store, path=path, context=CONTEXT)

    record = sqlite_store.get_ci("fhir-device-vent-1")
    assert record is not None
    assert created.criticality is Criticality.PATIENT_CARE
    assert report.cis.unchanged == 1
    assert record.criticality is Criticality.LIFE_CRITICAL


def test_folder_with_only_relationships_is_native_csv(tmp_path: Path, sqlite_store: GraphStore) -> None:
    (tmp_path / "relationships.csv").write_text("source,type,target\na,DEPENDS_ON,b\n")

    with pytest.raises(ImportFileError) as caught:
        import_file(store=sqlite_store, path=tmp_path, context=CONTEXT)

    assert detect_format(tmp_path) is ImportFormat.NATIVE_CSV
    assert caught.value.file == str(tmp_path / "cis.csv")
    assert caught.value.reason.startswith("file not found: the folder has relationships.csv but no cis.csv")


def test_folder_with_only_cis_imports_cis(
    tmp_path: Path, sqlite_store: GraphStore, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "cis.csv").write_text("id,class,name\nsrv-1,Server,One\n")

    with caplog.at_level(logging.WARNING, logger="cmdb.imports.native"):
        report = import_file(store=sqlite_store, path=tmp_path, context=CONTEXT)

    assert detect_format(tmp_path) is ImportFormat.NATIVE_CSV
    assert report.cis.added == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path} has cis.csv but no relationships.csv: importing CIs only; add relationships.csv"
        " to import relationships"
    ]


async def _upsert(store: GraphStore, token: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    app = create_app(settings=Settings(store="sqlite:///unused", graphiql=False), store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cmdb.test") as client:
        response = await client.post(
            "/graphql",
            json={"query": UPSERT_CIS, "variables": {"input": rows}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body["data"]["upsertCIs"]


@pytest.mark.anyio
async def test_upsert_cis_merges_with_stored(monitor_store: GraphStore) -> None:
    token = create_token(store=monitor_store, name="editor", actor="editor-actor", roles=["editor"])
    row = {
        "key": "mon-icu-2",
        "ciClass": "MedicalDevice",
        "name": "Bed 2 monitor",
        "attributes": {"model": "IntelliVue MX850", "patient_connected": None},
        "identifiers": {"ips": ["10.20.0.2"]},
    }

    result = await _upsert(monitor_store, token, [row])

    record = monitor_store.get_ci("mon-icu-2")
    assert record is not None
    assert result == {"__typename": "UpsertResult", "added": 0, "updated": 1, "unchanged": 0}
    assert record.criticality is Criticality.LIFE_CRITICAL
    assert record.attributes == {"manufacturer": "Philips", "model": "IntelliVue MX850", "fda_class": "II"}
    assert record.identifiers.serial == "MX8-0002"
    assert record.identifiers.ips == ["10.20.0.2"]
    assert record.tags == ["icu"]


@pytest.mark.anyio
async def test_upsert_cis_attribute_error_path(hospital_store: GraphStore) -> None:
    token = create_token(store=hospital_store, name="editor", actor="editor-actor", roles=["editor"])
    row = {"key": "srv-9", "ciClass": "Server", "name": "Server 9", "attributes": {"cpu": "many"}}

    result = await _upsert(hospital_store, token, [row])

    assert result["__typename"] == "ValidationFailed"
    assert [error["field"] for error in result["errors"]] == ["input.0.attributes.cpu"]
