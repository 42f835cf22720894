"""Fixtures shared by every test: the data folder and a fresh SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdb.store.base import GraphStore

DATA_DIR = Path(__file__).parent / "data"
HOSPITAL_DIR = DATA_DIR / "hospital-small"


@pytest.fixture
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[GraphStore]:
    """A fresh SQLite store in a file of its own, closed after the test."""
    from cmdb.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'cmdb.sqlite3'}")
    try:
        yield store
    finally:
        store.close()
