"""An import that the store stops midway: a clear error with the counts so far, and a clean re-run."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdb.imports import ImportFileError, ImportInterruptedError, ImportProgress, import_file
from cmdb.imports.native import export_graph
from cmdb.model import ChangeContext, Origin
from cmdb.store import open_store, sqlite_schema
from cmdb.store.base import GraphStore

CONTEXT = ChangeContext(actor="importer-test", origin=Origin.IMPORT)
BATCH_SIZE = 10
HOSPITAL_CIS = 72
HOSPITAL_RELATIONSHIPS = 160


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "locked.sqlite3"


@pytest.fixture
def impatient_store(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphStore]:
    """A SQLite store that waits 100 ms, not the default 10 s, for another writer's lock."""
    monkeypatch.setattr(sqlite_schema, "BUSY_TIMEOUT_MS", 100)
    store = open_store(f"sqlite:///{store_path}")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def blocker(store_path: Path, impatient_store: GraphStore) -> Iterator[sqlite3.Connection]:
    """A second connection to the store file, to hold its write lock with BEGIN IMMEDIATE."""
    connection = sqlite3.connect(store_path, isolation_level=None)
    try:
        yield connection
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        connection.close()


def _import_locked_after_first_batch(
    store: GraphStore, blocker: sqlite3.Connection, hospital: Path
) -> ImportInterruptedError:
    def lock_store(step: ImportProgress) -> None:
        if not blocker.in_transaction:
            blocker.execute("BEGIN IMMEDIATE")

    with pytest.raises(ImportInterruptedError) as caught:
        import_file(store=store, path=hospital, context=CONTEXT, batch_size=BATCH_SIZE, progress=lock_store)
    blocker.execute("ROLLBACK")
    return caught.value


def test_locked_store_raises_import_error(
    impatient_store: GraphStore, blocker: sqlite3.Connection, data_dir: Path
) -> None:
    hospital = data_dir / "hospital-small" / "hospital.json"

    error = _import_locked_after_first_batch(impatient_store, blocker, hospital)

    assert isinstance(error, ImportFileError)
    assert isinstance(error.__cause__, sqlite3.OperationalError)
    assert error.file == str(hospital)
    assert error.report.cis.added == BATCH_SIZE
    assert error.report.relationships.accepted == 0
    assert error.reason == (
        "the import stopped midway because the store failed (OperationalError: database is locked);"
        f" written before that: {BATCH_SIZE} of {HOSPITAL_CIS} CIs and 0 of {HOSPITAL_RELATIONSHIPS}"
        " relationships. Fix the cause and run the same import again to finish it: writes are upserts"
        " by key, so rows already written come back unchanged and none is duplicated"
    )


def test_locked_store_logs_report_so_far(
    impatient_store: GraphStore, blocker: sqlite3.Connection, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hospital = data_dir / "hospital-small" / "hospital.json"

    with caplog.at_level(logging.ERROR, logger="cmdb.imports.service"):
        _import_locked_after_first_batch(impatient_store, blocker, hospital)

    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"import of {hospital} stopped; written before the stop: CIs {BATCH_SIZE} added, 0 updated,"
        " 0 unchanged, 0 rejected; relationships 0 added, 0 updated, 0 unchanged, 0 rejected"
    ]


def test_rerun_after_lock_finishes_without_duplicates(
    impatient_store: GraphStore, blocker: sqlite3.Connection, data_dir: Path
) -> None:
    hospital = data_dir / "hospital-small" / "hospital.json"
    _import_locked_after_first_batch(impatient_store, blocker, hospital)

    report = import_file(store=impatient_store, path=hospital, context=CONTEXT, batch_size=BATCH_SIZE)

    cis, relationships = export_graph(store=impatient_store)
    assert report.cis.unchanged == BATCH_SIZE
    assert report.cis.added == HOSPITAL_CIS - BATCH_SIZE
    assert report.relationships.added == HOSPITAL_RELATIONSHIPS
    assert len(cis) == HOSPITAL_CIS
    assert len({ci.key for ci in cis}) == HOSPITAL_CIS
    assert len(relationships) == HOSPITAL_RELATIONSHIPS
    assert {ci.version for ci in cis} == {1}
