"""Fixtures of the integration tests: the reference hospital in a real SQLite store."""

from __future__ import annotations

import pytest

from cmdb.model import ChangeContext, Origin
from cmdb.store.base import GraphStore
from tests.reference import load_hospital


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def hospital_store(sqlite_store: GraphStore) -> GraphStore:
    """A fresh SQLite store holding the reference hospital."""
    cis, relationships = load_hospital()
    context = ChangeContext(actor="test-loader", origin=Origin.IMPORT)
    sqlite_store.upsert_cis(cis, context=context, strict=True)
    sqlite_store.upsert_relationships(relationships, context=context, strict=True)
    return sqlite_store
