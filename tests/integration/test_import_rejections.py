"""Bad input against a real store: each rejection names the value, and only accepted rows are written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cmdb.imports import ImportFileError, ImportReport, import_file
from cmdb.imports.native import export_graph
from cmdb.model import ChangeContext, Origin
from cmdb.store.base import GraphStore

CONTEXT = ChangeContext(actor="importer-test", origin=Origin.IMPORT)


@pytest.fixture
def loaded_store(sqlite_store: GraphStore, data_dir: Path) -> GraphStore:
    import_file(store=sqlite_store, path=data_dir / "hospital-small" / "hospital.json", context=CONTEXT)
    return sqlite_store


def _ci(key: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": key,
        "class": "Server",
        "name": key,
        "criticality": "business",
        "status": "in_service",
        **fields,
    }


def _write(tmp_path: Path, cis: list[dict[str, Any]], relationships: list[dict[str, Any]]) -> Path:
    path = tmp_path / "batch.json"
    document = {"format": "cmdb/v1", "cis": cis, "relationships": relationships}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _keys(store: GraphStore) -> set[str]:
    cis, _ = export_graph(store=store)
    return {ci.key for ci in cis}


def _import_checked(store: GraphStore, path: Path, new_cis: set[str], new_relationships: int) -> ImportReport:
    """Import ``path`` and check that the store gained exactly ``new_cis`` and ``new_relationships``."""
    counts_before = store.counts()
    keys_before = _keys(store)

    report = import_file(store=store, path=path, context=CONTEXT)

    assert _keys(store) == keys_before | new_cis
    assert store.counts()["cis"] == counts_before["cis"] + len(new_cis)
    assert store.counts()["relationships"] == counts_before["relationships"] + new_relationships
    return report


def test_malformed_json_writes_nothing(loaded_store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"format": "cmdb/v1", "cis": [\n  {"id": "srv-x"\n]}', encoding="utf-8")
    counts_before = loaded_store.counts()

    with pytest.raises(ImportFileError) as caught:
        import_file(store=loaded_store, path=path, context=CONTEXT)

    assert caught.value.file == str(path)
    assert caught.value.line == 3
    assert loaded_store.counts() == counts_before


def test_malformed_csv_writes_nothing(loaded_store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "cis.csv"
    path.write_text('id,class,name\nsrv-a,Server,A\nsrv-b,Server,"B\n', encoding="utf-8")
    counts_before = loaded_store.counts()

    with pytest.raises(ImportFileError, match="invalid CSV"):
        import_file(store=loaded_store, path=path, context=CONTEXT)

    assert loaded_store.counts() == counts_before


def test_malformed_xml_writes_nothing(loaded_store: GraphStore, tmp_path: Path, data_dir: Path) -> None:
    good = (data_dir / "fhir" / "pocd" / "Location-SomeLocation.xml").read_bytes()
    (tmp_path / "a.xml").write_bytes(good)
    (tmp_path / "b.xml").write_bytes(b'<Device xmlns="http://hl7.org/fhir">\n<id value="x">\n</Device>')
    counts_before = loaded_store.counts()

    with pytest.raises(ImportFileError, match="invalid XML") as caught:
        import_file(store=loaded_store, path=tmp_path, context=CONTEXT)

    assert caught.value.file == str(tmp_path / "b.xml")
    assert loaded_store.counts() == counts_before


def test_unknown_class(loaded_store: GraphStore, tmp_path: Path) -> None:
    path = _write(tmp_path, [_ci("srv-new"), _ci("x-1", **{"class": "Toaster"})], [])

    report = _import_checked(loaded_store, path, {"srv-new"}, 0)

    (rejected,) = report.rejected
    assert rejected.ref.index == 1
    assert "'Toaster'" in rejected.reason


def test_wrong_criticality(loaded_store: GraphStore, tmp_path: Path) -> None:
    path = _write(tmp_path, [_ci("srv-new"), _ci("srv-bad", criticality="urgent")], [])

    report = _import_checked(loaded_store, path, {"srv-new"}, 0)

    (rejected,) = report.rejected
    assert rejected.ref.row_id == "srv-bad"
    assert "'urgent'" in rejected.reason


def test_unknown_relationship_type(loaded_store: GraphStore, tmp_path: Path) -> None:
    relationships = [
        {"source": "srv-new", "type": "RUNS_ON", "target": "esx-1"},
        {"source": "srv-new", "type": "LIVES_ON", "target": "esx-2"},
    ]
    path = _write(tmp_path, [_ci("srv-new")], relationships)

    report = _import_checked(loaded_store, path, {"srv-new"}, 1)

    (rejected,) = report.rejected
    assert rejected.ref.index == 1
    assert "'LIVES_ON'" in rejected.reason
    assert report.relationships.rejected == 1


def test_relationship_to_missing_ci(loaded_store: GraphStore, tmp_path: Path) -> None:
    relationships = [
        {"source": "srv-new", "type": "RUNS_ON", "target": "esx-1"},
        {"source": "srv-new", "type": "RUNS_ON", "target": "esx-99"},
    ]
    path = _write(tmp_path, [_ci("srv-new")], relationships)

    report = _import_checked(loaded_store, path, {"srv-new"}, 1)

    (rejected,) = report.rejected
    assert "'esx-99'" in rejected.reason
    assert "neither in this import nor in the store" in rejected.reason


def test_relationship_to_rejected_ci(loaded_store: GraphStore, tmp_path: Path) -> None:
    cis = [_ci("srv-new"), _ci("srv-bad", status="broken")]
    relationships = [{"source": "srv-bad", "type": "RUNS_ON", "target": "esx-1"}]
    path = _write(tmp_path, cis, relationships)

    report = _import_checked(loaded_store, path, {"srv-new"}, 0)

    ci_rejection, relationship_rejection = report.rejected
    assert "'broken'" in ci_rejection.reason
    assert "source CI 'srv-bad' was rejected at" in relationship_rejection.reason
    assert "cis[1]" in relationship_rejection.reason


def test_duplicate_key(loaded_store: GraphStore, tmp_path: Path) -> None:
    path = _write(tmp_path, [_ci("srv-new"), _ci("srv-other"), _ci("srv-new", name="Second")], [])

    report = _import_checked(loaded_store, path, {"srv-new", "srv-other"}, 0)

    (rejected,) = report.rejected
    assert "duplicate id 'srv-new'" in rejected.reason
    assert "cis[0]" in rejected.reason
    assert "cis[2]" in rejected.reason
    stored = loaded_store.get_ci("srv-new")
    assert stored is not None
    assert stored.name == "srv-new"


def test_duplicate_key_in_csv_names_lines(loaded_store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "cis.csv"
    path.write_text("id,class,name\nsrv-new,Server,A\nsrv-new,Server,B\n", encoding="utf-8")

    report = _import_checked(loaded_store, path, {"srv-new"}, 0)

    (rejected,) = report.rejected
    assert rejected.ref.line == 3
    assert "already defined at line 2, again at line 3" in rejected.reason


def test_update_of_existing_ci_counted(loaded_store: GraphStore, tmp_path: Path) -> None:
    path = _write(tmp_path, [_ci("esx-1", **{"class": "Server", "name": "ESX host 1 renamed"})], [])

    report = _import_checked(loaded_store, path, set(), 0)

    assert (report.cis.added, report.cis.updated) == (0, 1)


def test_report_to_dict(loaded_store: GraphStore, tmp_path: Path) -> None:
    path = _write(tmp_path, [_ci("srv-new"), _ci("srv-bad", criticality="urgent")], [])

    report = import_file(store=loaded_store, path=path, context=CONTEXT)
    data = report.to_dict()

    assert data["cis"] == {"added": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert data["rejected"][0]["index"] == 1
    assert data["rejected"][0]["id"] == "srv-bad"
