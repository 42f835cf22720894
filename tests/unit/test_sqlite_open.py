"""Opening stores by URL, and the SQLite connection settings and schema versioning."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cmdb.model import ChangeContext, CIInput, Origin
from cmdb.store import SQLiteStore, open_store
from cmdb.store.base import GraphStore, StoreError
from cmdb.store.sqlite_schema import MIGRATIONS

CONTEXT = ChangeContext(actor="tester", origin=Origin.CLI)


def test_open_absolute_path(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'abs.sqlite3'}")
    try:
        assert isinstance(store, SQLiteStore)
        assert isinstance(store, GraphStore)
    finally:
        store.close()

    assert (tmp_path / "abs.sqlite3").exists()


def test_open_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    open_store("sqlite:///data.sqlite3").close()

    assert (tmp_path / "data.sqlite3").exists()


@pytest.mark.parametrize("url", ["postgres://db/cmdb", "mysql://127.0.0.1:3306", "cmdb.sqlite3", ""])
def test_unknown_scheme_raises(url: str) -> None:
    with pytest.raises(ValueError) as raised:
        open_store(url)

    assert repr(url) in str(raised.value)
    assert "sqlite:///" in str(raised.value)


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite:///:memory:", "sqlite://relative.db"])
def test_sqlite_url_without_file_raises(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        open_store(url)


def test_password_left_out_of_message() -> None:
    with pytest.raises(ValueError) as raised:
        open_store("postgres://admin:s3cret@127.0.0.1:5432/cmdb")

    assert "s3cret" not in str(raised.value)
    assert "postgres://admin:***@127.0.0.1:5432/cmdb" in str(raised.value)


def test_neo4j_url_with_password_rejected() -> None:
    with pytest.raises(ValueError) as raised:
        open_store("neo4j://neo4j:s3cret@127.0.0.1:7687")

    assert "s3cret" not in str(raised.value)
    assert "CMDB_NEO4J_PASSWORD" in str(raised.value)


def test_missing_folder_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no-such-folder"):
        SQLiteStore(tmp_path / "no-such-folder" / "cmdb.sqlite3")


def test_connection_settings(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cmdb.sqlite3")
    try:
        conn = store._connection()
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    finally:
        store.close()


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "cmdb.sqlite3"
    first = SQLiteStore(path)
    first.upsert_cis([CIInput(key="srv-1", ci_class="Server", name="srv-1")], context=CONTEXT)
    first.close()

    second = SQLiteStore(path)
    try:
        assert second.counts() == {"cis": 1, "relationships": 0, "versions": 1}
    finally:
        second.close()


def test_newer_schema_raises(tmp_path: Path) -> None:
    path = tmp_path / "cmdb.sqlite3"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")

    with pytest.raises(RuntimeError, match="newer"):
        SQLiteStore(path)


def test_closed_store_raises(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cmdb.sqlite3")
    store.close()

    with pytest.raises(StoreError, match="closed"):
        store.ping()


def test_tables_made_on_first_use_migrate(tmp_path: Path) -> None:
    """A store whose build created discovery_run and copy_progress on first use keeps their rows."""
    path = tmp_path / "cmdb.sqlite3"
    with sqlite3.connect(path) as conn:
        for script in MIGRATIONS[:2]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version = 2")
        conn.execute(
            "CREATE TABLE discovery_run (id TEXT PRIMARY KEY, started_at TEXT NOT NULL,"
            " document TEXT NOT NULL)"
        )
        conn.execute("INSERT INTO discovery_run VALUES ('run-1', '2026-01-05T08:00:00+00:00', '{}')")
        conn.execute(
            "CREATE TABLE copy_progress (id INTEGER PRIMARY KEY CHECK (id = 1), source TEXT NOT NULL,"
            " fingerprint TEXT NOT NULL, phase TEXT NOT NULL, cursor TEXT, updated_at TEXT NOT NULL)"
        )
        conn.execute("INSERT INTO copy_progress VALUES (1, 'sqlite:///a', 'f', 'cis', 'k', 'now')")

    store = SQLiteStore(path)
    try:
        conn = store._connection()
        assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        assert conn.execute("SELECT id FROM discovery_run").fetchall() == [("run-1",)]
        assert conn.execute("SELECT source, cursor FROM copy_progress").fetchall() == [("sqlite:///a", "k")]
    finally:
        store.close()


def test_new_store_has_run_and_copy_tables(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cmdb.sqlite3")
    try:
        conn = store._connection()
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        store.close()
    assert "discovery_run" in tables
    assert "copy_progress" in tables
