"""The ``store`` fixture every conformance test runs on, once per store implementation.

Each entry of ``STORE_FACTORIES`` opens a fresh, empty store and closes it afterwards;
a new store joins the suite by adding its factory there. Tests use only the GraphStore
protocol, never anything a particular store adds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from cmdb.model import ChangeContext, Origin
from cmdb.store import open_store
from cmdb.store.base import GraphStore
from tests.reference import load_hospital

StoreFactory = Callable[[Path], AbstractContextManager[GraphStore]]


@contextmanager
def sqlite_factory(tmp_path: Path) -> Iterator[GraphStore]:
    store = open_store(f"sqlite:///{tmp_path / 'conformance.sqlite3'}")
    try:
        yield store
    finally:
        store.close()


STORE_FACTORIES = [
    pytest.param(sqlite_factory, id="sqlite"),
]


@pytest.fixture(params=STORE_FACTORIES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """Return a fresh, empty store of each kind in turn."""
    factory: StoreFactory = request.param
    with factory(tmp_path) as opened:
        yield opened


@pytest.fixture
def context() -> ChangeContext:
    return ChangeContext(actor="alice", origin=Origin.API, request_id="req-1")


@pytest.fixture
def hospital(store: GraphStore) -> GraphStore:
    """Return the store loaded with the reference hospital."""
    cis, relationships = load_hospital()
    load = ChangeContext(actor="loader", origin=Origin.IMPORT, request_id="load-hospital")
    assert store.upsert_cis(cis, context=load, strict=True).added == len(cis)
    assert store.upsert_relationships(relationships, context=load, strict=True).added == len(relationships)
    return store
