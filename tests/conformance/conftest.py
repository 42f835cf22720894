"""The ``store`` fixture every conformance test runs on, once per store implementation.

Each entry of ``STORE_FACTORIES`` opens a fresh, empty store and closes it afterwards;
a new store joins the suite by adding its factory there. Tests use only the GraphStore
protocol, never anything a particular store adds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

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


@contextmanager
def neo4j_factory(tmp_path: Path) -> Iterator[GraphStore]:
    """Open the Neo4j server at NEO4J_URI, emptied first; fail on CI and skip elsewhere without one."""
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        reason = "NEO4J_URI is not set; start a server with scripts/neo4j/start"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from neo4j import GraphDatabase

    from cmdb.store.neo4j import Neo4jStore

    password = os.environ.get("NEO4J_PASSWORD", "")
    database = os.environ.get("NEO4J_DATABASE", "neo4j")
    auth = ("neo4j", password) if password else None
    # Neo4j accepts CALL ... IN TRANSACTIONS only in an implicit transaction, so session.run.
    with GraphDatabase.driver(uri, auth=auth) as driver, driver.session(database=database) as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()
    store = Neo4jStore(uri, user="neo4j", password=SecretStr(password), database=database)
    try:
        yield store
    finally:
        store.close()


STORE_FACTORIES = [
    pytest.param(sqlite_factory, id="sqlite"),
    pytest.param(neo4j_factory, id="neo4j", marks=pytest.mark.integration),
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
