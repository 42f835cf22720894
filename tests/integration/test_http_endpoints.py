"""Health, readiness, metrics, request ids and GraphiQL of the real app over ASGI."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cmdb.app import create_app
from cmdb.auth import create_token
from cmdb.settings import Settings
from cmdb.store.base import GraphStore, StoreError
from cmdb.store.sqlite import SQLiteStore


class FileCheckingStore(SQLiteStore):
    """A SQLite store whose ping also fails while its file is missing.

    SQLiteStore.ping runs SELECT 1 on an open connection, which succeeds even after
    the file is removed, so this check makes a missing file visible to readiness.
    """

    def ping(self) -> None:
        if not Path(self.path).exists():
            raise StoreError(f"SQLite file {self.path!r} is missing")
        super().ping()


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cmdb.test")


SETTINGS = Settings(store="sqlite:///unused")


@pytest.mark.anyio
async def test_healthz_ok(sqlite_store: GraphStore) -> None:
    async with client_for(create_app(settings=SETTINGS, store=sqlite_store)) as client:
        response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.anyio
async def test_readyz_ok_then_503_when_closed(sqlite_store: GraphStore) -> None:
    app = create_app(settings=SETTINGS, store=sqlite_store)

    async with client_for(app) as client:
        ready = await client.get("/readyz")
        sqlite_store.close()
        broken = await client.get("/readyz")
        alive = await client.get("/healthz")

    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
    assert broken.status_code == 503
    assert broken.json()["status"] == "unavailable"
    assert broken.json()["reason"].startswith("store unavailable: StoreError:")
    assert alive.status_code == 200


@pytest.mark.anyio
async def test_readyz_recovers_without_restart(tmp_path: Path) -> None:
    path = tmp_path / "cmdb.sqlite3"
    moved = tmp_path / "elsewhere.sqlite3"
    store = FileCheckingStore(path)
    app = create_app(settings=SETTINGS, store=store)
    try:
        async with client_for(app) as client:
            before = await client.get("/readyz")
            os.rename(path, moved)
            during = await client.get("/readyz")
            os.rename(moved, path)
            after = await client.get("/readyz")
    finally:
        store.close()

    assert before.status_code == 200
    assert during.status_code == 503
    assert "is missing" in during.json()["reason"]
    assert after.status_code == 200


@pytest.mark.anyio
async def test_request_id_echoed_or_generated(sqlite_store: GraphStore) -> None:
    async with client_for(create_app(settings=SETTINGS, store=sqlite_store)) as client:
        given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        generated = await client.get("/healthz")
        insane = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})

    assert given.headers["x-request-id"] == "abc-123"
    assert len(generated.headers["x-request-id"]) == 32
    assert insane.headers["x-request-id"] != "bad id\twith spaces"
    assert len(insane.headers["x-request-id"]) == 32


@pytest.mark.anyio
async def test_metrics_count_operations_and_impact(sqlite_store: GraphStore) -> None:
    token = create_token(store=sqlite_store, name="viewer", actor="viewer", roles=["viewer"])
    app = create_app(settings=SETTINGS, store=sqlite_store)
    headers = {"Authorization": f"Bearer {token}"}

    async with client_for(app) as client:
        await client.post("/graphql", json={"query": '{ ci(key: "x") { __typename } }'}, headers=headers)
        await client.post(
            "/graphql",
            json={"query": '{ impact(input: {roots: [{ci: "x"}]}) { __typename } }'},
            headers=headers,
        )
        await client.post("/graphql", json={"query": "{ noSuchField }"}, headers=headers)
        response = await client.get("/metrics")

    text = response.text
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'cmdb_graphql_operations_total{field="ci",operation="query",outcome="ok"} 1.0' in text
    assert 'cmdb_graphql_operations_total{field="impact",operation="query",outcome="ok"} 1.0' in text
    assert 'cmdb_graphql_operations_total{field="unknown",operation="query",outcome="error"} 1.0' in text
    assert 'cmdb_graphql_operation_seconds_count{field="ci",operation="query"} 1.0' in text
    assert 'cmdb_http_requests_total{method="POST",path="/graphql",status="200"} 3.0' in text
    assert "cmdb_impact_seconds_bucket" in text
    assert "noSuchField" not in text


@pytest.mark.anyio
async def test_metrics_registry_per_app(sqlite_store: GraphStore) -> None:
    first = create_app(settings=SETTINGS, store=sqlite_store)
    second = create_app(settings=SETTINGS, store=sqlite_store)

    async with client_for(first) as client:
        await client.get("/healthz")
    async with client_for(second) as client:
        response = await client.get("/metrics")

    assert 'path="/healthz"' not in response.text


@pytest.mark.anyio
async def test_graphiql_served_only_when_enabled(sqlite_store: GraphStore) -> None:
    with_ide = create_app(settings=Settings(store="sqlite:///unused", graphiql=True), store=sqlite_store)
    without_ide = create_app(settings=Settings(store="sqlite:///unused", graphiql=False), store=sqlite_store)

    async with client_for(with_ide) as client:
        shown = await client.get("/graphql", headers={"Accept": "text/html"})
    async with client_for(without_ide) as client:
        hidden = await client.get("/graphql", headers={"Accept": "text/html"})

    assert shown.status_code == 200
    assert "graphiql" in shown.text.lower()
    assert hidden.status_code == 404
