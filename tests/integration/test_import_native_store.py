"""Native JSON and CSV imports into a real SQLite store, format detection, batches and progress."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmdb.imports import ImportFileError, ImportFormat, ImportProgress, detect_format, import_file
from cmdb.imports.native import export_graph, render_csv, write_csv, write_json
from cmdb.model import ChangeContext, Origin
from cmdb.store import open_store
from cmdb.store.base import GraphStore

CONTEXT = ChangeContext(actor="importer-test", origin=Origin.IMPORT)


@pytest.fixture
def hospital(data_dir: Path) -> Path:
    return data_dir / "hospital-small" / "hospital.json"


@pytest.fixture
def second_store(tmp_path: Path) -> Iterator[GraphStore]:
    store = open_store(f"sqlite:///{tmp_path / 'second.sqlite3'}")
    try:
        yield store
    finally:
        store.close()


def _graph(store: GraphStore) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Return the CIs and relationships of ``store`` as sets of comparable tuples."""
    cis, relationships = export_graph(store=store)
    ci_set = {
        (
            ci.key,
            ci.ci_class,
            ci.name,
            ci.status.value,
            ci.criticality.value,
            repr(sorted(ci.attributes.items())),
            repr(ci.identifiers.model_dump()),
            tuple(ci.tags),
        )
        for ci in cis
    }
    relationship_set = {
        (r.source, r.type, r.target, repr(sorted(r.properties.items()))) for r in relationships
    }
    return ci_set, relationship_set


def test_hospital_import_counts(sqlite_store: GraphStore, hospital: Path) -> None:
    report = import_file(store=sqlite_store, path=hospital, context=CONTEXT)

    assert report.format is ImportFormat.NATIVE
    assert report.cis.added == 72
    assert report.relationships.added == 160
    assert report.rejected == []
    assert sqlite_store.counts()["cis"] == 72
    assert sqlite_store.counts()["relationships"] == 160


def test_hospital_reimport_unchanged(sqlite_store: GraphStore, hospital: Path) -> None:
    import_file(store=sqlite_store, path=hospital, context=CONTEXT)
    counts_before = sqlite_store.counts()

    report = import_file(store=sqlite_store, path=hospital, context=CONTEXT)

    assert (report.cis.added, report.cis.updated, report.cis.unchanged) == (0, 0, 72)
    assert (report.relationships.added, report.relationships.updated, report.relationships.unchanged) == (
        0,
        0,
        160,
    )
    assert sqlite_store.counts() == counts_before


def test_history_records_import_origin(sqlite_store: GraphStore, hospital: Path) -> None:
    context = ChangeContext(actor="someone", origin=Origin.CLI)
    import_file(store=sqlite_store, path=hospital, context=context)

    (version,) = sqlite_store.versions("loc-main")[:1]
    assert version.origin == "import"
    assert version.actor == "someone"


def test_csv_pair_round_trips_graph(
    sqlite_store: GraphStore, second_store: GraphStore, hospital: Path, tmp_path: Path
) -> None:
    import_file(store=sqlite_store, path=hospital, context=CONTEXT)
    folder = tmp_path / "csv"
    assert write_csv(store=sqlite_store, folder=folder) == (72, 160)

    report = import_file(store=second_store, path=folder / "cis.csv", context=CONTEXT)

    assert report.format is ImportFormat.NATIVE_CSV
    assert report.cis.added == 72
    assert report.relationships.added == 160
    assert _graph(second_store) == _graph(sqlite_store)


def test_csv_folder_import(
    second_store: GraphStore, sqlite_store: GraphStore, hospital: Path, tmp_path: Path
) -> None:
    import_file(store=sqlite_store, path=hospital, context=CONTEXT)
    cis, relationships = export_graph(store=sqlite_store)
    cis_text, relationships_text = render_csv(cis, relationships)
    (tmp_path / "cis.csv").write_text(cis_text, encoding="utf-8")
    (tmp_path / "relationships.csv").write_text(relationships_text, encoding="utf-8")

    report = import_file(store=second_store, path=tmp_path, context=CONTEXT)

    assert report.format is ImportFormat.NATIVE_CSV
    assert report.cis.added == 72
    assert report.relationships.added == 160


def test_json_export_round_trips(
    sqlite_store: GraphStore, second_store: GraphStore, hospital: Path, tmp_path: Path
) -> None:
    import_file(store=sqlite_store, path=hospital, context=CONTEXT)
    exported = tmp_path / "export.json"
    assert write_json(store=sqlite_store, path=exported) == (72, 160)

    import_file(store=second_store, path=exported, context=CONTEXT)

    assert _graph(second_store) == _graph(sqlite_store)


def test_batches_report_progress(sqlite_store: GraphStore, hospital: Path) -> None:
    seen: list[ImportProgress] = []

    report = import_file(
        store=sqlite_store, path=hospital, context=CONTEXT, batch_size=50, progress=seen.append
    )

    assert report.cis.added == 72
    assert report.relationships.added == 160
    assert [(p.stage, p.done, p.total) for p in seen] == [
        ("cis", 50, 72),
        ("cis", 72, 72),
        ("relationships", 50, 160),
        ("relationships", 100, 160),
        ("relationships", 150, 160),
        ("relationships", 160, 160),
    ]


def test_invalid_batch_size_raises(sqlite_store: GraphStore, hospital: Path) -> None:
    with pytest.raises(ValueError, match="invalid batch size 0"):
        import_file(store=sqlite_store, path=hospital, context=CONTEXT, batch_size=0)


def test_detect_format(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "native").mkdir()
    (tmp_path / "native" / "cis.csv").write_text("id,class,name\n", encoding="utf-8")
    relationships = tmp_path / "relationships.csv"
    relationships.write_text("source,type,target\n", encoding="utf-8")

    assert detect_format(data_dir / "hospital-small" / "hospital.json") is ImportFormat.NATIVE
    assert detect_format(data_dir / "fhir" / "r4" / "Device-f001.json") is ImportFormat.FHIR
    assert detect_format(data_dir / "fhir" / "pocd" / "Location-SomeLocation.xml") is ImportFormat.FHIR
    assert detect_format(data_dir / "fhir") is ImportFormat.FHIR
    assert detect_format(data_dir / "app-graphs" / "trainticket.csv") is ImportFormat.APP_GRAPH
    assert detect_format(tmp_path / "native") is ImportFormat.NATIVE_CSV
    assert detect_format(relationships) is ImportFormat.NATIVE_CSV


def test_detect_format_unknown_json(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"items": []}', encoding="utf-8")

    with pytest.raises(ImportFileError, match="unknown JSON document"):
        detect_format(path)


def test_detect_format_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="file not found"):
        detect_format(tmp_path / "absent.json")


def test_relationships_csv_alone(sqlite_store: GraphStore, hospital: Path, tmp_path: Path) -> None:
    import_file(store=sqlite_store, path=hospital, context=CONTEXT)
    path = tmp_path / "relationships.csv"
    path.write_text("source,type,target\nws-icu-1,MANAGED_BY,team-netops\n", encoding="utf-8")

    report = import_file(store=sqlite_store, path=path, context=CONTEXT)

    assert report.cis.accepted == 0
    assert report.relationships.added == 1


def test_csv_copied_beside_data(sqlite_store: GraphStore, data_dir: Path, tmp_path: Path) -> None:
    # A call graph copied under another name keeps its own key prefix.
    copy = tmp_path / "shop.csv"
    shutil.copy(data_dir / "app-graphs" / "deathstarbench-socialNetwork.csv", copy)

    report = import_file(store=sqlite_store, path=copy, context=CONTEXT)

    assert report.cis.added == 25
    assert sqlite_store.get_ci("shop-compose-post-service") is not None
