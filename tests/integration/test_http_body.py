"""Request bodies and parameters the GraphQL endpoint cannot use: 400 or 413 with a clear message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from cmdb.app import create_app
from cmdb.settings import Settings
from cmdb.store.base import GraphStore
from tests.integration.uvicorn_helpers import serve

SMALL_LIMIT = 4096
SETTINGS = Settings(store="sqlite:///unused", graphiql=False, open_reads=True, max_body_bytes=SMALL_LIMIT)
JSON_HEADERS = {"content-type": "application/json"}
NOT_AN_OBJECT = (
    '; send one JSON object such as {"query": "...", "variables": {...}} (batches are not supported)'
)


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cmdb.test")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"5", "a number"),
        (b"[1]", "an array"),
        (b'"{}"', "a string"),
        (b"null", "null"),
        (b"true", "a boolean"),
    ],
)
async def test_body_not_object_rejected(sqlite_store: GraphStore, body: bytes, kind: str) -> None:
    async with client_for(create_app(settings=SETTINGS, store=sqlite_store)) as client:
        response = await client.post("/graphql", content=body, headers=JSON_HEADERS)

    assert response.status_code == 400
    assert response.text == f"invalid request body: got {kind}{NOT_AN_OBJECT}"


@pytest.mark.anyio
@pytest.mark.parametrize(("body", "position"), [(b"\xff\xfe", 0), (b'{"query": "\xff"}', 11)])
async def test_body_not_utf8_rejected(sqlite_store: GraphStore, body: bytes, position: int) -> None:
    async with client_for(create_app(settings=SETTINGS, store=sqlite_store)) as client:
        response = await client.post("/graphql", content=body, headers=JSON_HEADERS)

    assert response.status_code == 400
    assert response.text == f"invalid request body: byte {position} is not UTF-8; send JSON encoded as UTF-8"


@pytest.mark.anyio
async def test_body_not_json_rejected(sqlite_store: GraphStore) -> None:
    async with client_for(create_app(settings=SETTINGS, store=sqlite_store)) as client:
        response = await client.post("/graphql", content=b'{"query": ', headers=JSON_HEADERS)

    assert response.status_code == 400
    assert (
        response.text == "invalid request body: not valid JSON (Expecting value: line 1 column 11 (char 10))"
    )


@pytest.mark.anyio
async def test_get_with_malformed_variables_rejected(sqlite_store: GraphStore) -> None:
    async with client_for(create_app(settings=SETTINGS, store=sqlite_store)) as client:
        response = await client.get("/graphql", params={"query": "{ __typename }", "variables": "{bad"})

    assert response.status_code == 400
    assert response.text.startswith("invalid variables parameter: not valid JSON (")
    assert response.text.endswith("); send a URL-encoded JSON object")


@pytest.mark.anyio
async def test_body_at_limit_accepted(sqlite_store: GraphStore) -> None:
    body = b'{"query": "{ __typename }"}'
    body = body + b" " * (SMALL_LIMIT - len(body))

    async with client_for(create_app(settings=SETTINGS, store=sqlite_store)) as client:
        response = await client.post("/graphql", content=body, headers=JSON_HEADERS)

    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.anyio
async def test_declared_length_over_limit_rejected(sqlite_store: GraphStore) -> None:
    body = b'{"query": "{ __typename }"}' + b" " * SMALL_LIMIT

    async with client_for(create_app(settings=SETTINGS, store=sqlite_store)) as client:
        response = await client.post(
            "/graphql", content=body, headers={**JSON_HEADERS, "x-request-id": "big-1"}
        )

    assert response.status_code == 413
    assert response.text == (
        f"request body too large: {len(body)} bytes; the limit is {SMALL_LIMIT} bytes (setting"
        " CMDB_MAX_BODY_BYTES); send large writes in several smaller batches"
    )
    assert response.headers["x-request-id"] == "big-1"


@pytest.mark.anyio
async def test_chunked_body_over_limit_rejected(sqlite_store: GraphStore) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }"'
        for _ in range(8):
            yield b" " * 1024
        yield b"}"

    async with client_for(create_app(settings=SETTINGS, store=sqlite_store)) as client:
        response = await client.post("/graphql", content=chunks(), headers=JSON_HEADERS)

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.text.startswith(f"request body too large: more than {SMALL_LIMIT} bytes; the limit is")


@pytest.mark.anyio
async def test_default_limit_rejects_5_mib(sqlite_store: GraphStore) -> None:
    body = b'{"query": "{ __typename }"}' + b" " * (5 * 1024 * 1024)
    settings = Settings(store="sqlite:///unused", graphiql=False, open_reads=True)

    async with client_for(create_app(settings=settings, store=sqlite_store)) as client:
        response = await client.post("/graphql", content=body, headers=JSON_HEADERS)

    assert response.status_code == 413


@pytest.fixture
def served_small_limit(sqlite_store: GraphStore) -> Iterator[str]:
    """Serve the app with a 4 KiB body limit through uvicorn on 127.0.0.1; yield its base URL."""
    with serve(create_app(settings=SETTINGS, store=sqlite_store)) as base_url:
        yield base_url


def test_uvicorn_rejects_large_and_non_object_bodies(served_small_limit: str) -> None:
    large = b'{"query": "{ __typename }"}' + b" " * (16 * SMALL_LIMIT)

    with httpx.Client(base_url=served_small_limit, timeout=10.0) as client:
        too_large = client.post("/graphql", content=large, headers=JSON_HEADERS)
        number = client.post("/graphql", content=b"5", headers=JSON_HEADERS)
        not_utf8 = client.post("/graphql", content=b"\xff\xfe", headers=JSON_HEADERS)
        health = client.get("/healthz")

    assert too_large.status_code == 413
    assert number.status_code == 400
    assert not_utf8.status_code == 400
    assert health.status_code == 200
