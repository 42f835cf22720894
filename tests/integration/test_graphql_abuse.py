"""Requests meant to hurt the service: costly traversals, slow resolvers, huge echoed values, odd
documents and forged cursors."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from cmdb.app import create_app
from cmdb.auth import create_token
from cmdb.demo import load_demo
from cmdb.model import ChangeContext, CIInput, CIRecord, Direction, Origin, RelationshipRecord
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.store.base import CIFilter, GraphStore, Neighbour, Page, UpsertResult
from cmdb.store.sqlite import SQLiteStore
from tests.integration.uvicorn_helpers import serve
from tests.reference import load_hospital

SETTINGS = Settings(store="sqlite:///unused", graphiql=False)
# How long a gated store call may wait for the test to open the gate; it bounds a failing test.
GATE_TIMEOUT_S = 10.0
# /healthz must respond within this while another request waits in a store call.
HEALTHZ_BUDGET_S = 1.0

LARGE_PAGE_OF_DEPTH_2 = "{ cis(first: 500) { edges { node { neighbours(depth: 2) { distance } } } } }"


def encode_cursor(value: object, separators: tuple[str, str] = (", ", ": ")) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=separators).encode()).decode("ascii")


async def post(
    store: GraphStore,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str,
    operation_name: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"query": query, "variables": variables or {}}
    if operation_name is not None:
        payload["operationName"] = operation_name
    transport = httpx.ASGITransport(app=create_app(settings=SETTINGS, store=store))
    async with httpx.AsyncClient(transport=transport, base_url="http://cmdb.test") as client:
        response = await client.post("/graphql", json=payload, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def viewer_token(hospital_store: GraphStore) -> str:
    return create_token(store=hospital_store, name="viewer", actor="abuse-viewer", roles=["viewer"])


# Traversal cost on the generated demo hospital


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphStore]:
    """The generated demo hospital (seed 7, scale 1, about 2,400 CIs) in a SQLite store."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'cmdb.sqlite3'}")
    load_demo(store=store, seed=7, scale=1, context=ChangeContext(actor="test-loader", origin=Origin.IMPORT))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="module")
def demo_token(demo_store: GraphStore) -> str:
    return create_token(store=demo_store, name="viewer", actor="demo-viewer", roles=["viewer"])


@pytest.mark.anyio
async def test_large_page_of_depth_2_rejected(demo_store: GraphStore, demo_token: str) -> None:
    started = time.perf_counter()
    body = await post(demo_store, LARGE_PAGE_OF_DEPTH_2, token=demo_token)
    elapsed = time.perf_counter() - started

    assert body["data"] is None
    assert body["errors"][0]["message"] == (
        "estimated traversal cost 200500 of the query exceeds the limit of 50000;"
        " lower first or neighbours depth, or split the query"
    )
    assert elapsed < 5.0


@pytest.mark.anyio
async def test_depth_2_on_one_ci_runs(demo_store: GraphStore, demo_token: str) -> None:
    key = demo_store.search_cis(CIFilter(), first=1, after=None).items[0].key
    query = "query($key: String!) { ci(key: $key) { ... on CI { neighbours(depth: 2) { distance } } } }"

    body = await post(demo_store, query, {"key": key}, token=demo_token)

    assert body.get("errors") is None
    assert {n["distance"] for n in body["data"]["ci"]["neighbours"]} <= {1, 2}


@pytest.mark.anyio
async def test_depth_10_on_one_ci_runs(demo_store: GraphStore, demo_token: str) -> None:
    key = demo_store.search_cis(CIFilter(), first=1, after=None).items[0].key
    query = "query($key: String!) { ci(key: $key) { ... on CI { neighbours(depth: 10) { distance } } } }"

    body = await post(demo_store, query, {"key": key}, token=demo_token)

    assert body.get("errors") is None
    assert body["data"]["ci"]["neighbours"]


# The event loop stays free while a resolver waits on the store


class GatedStore(SQLiteStore):
    """A SQLite store whose method named ``gated`` waits until the test opens the gate.

    A resolver that calls that method on the event loop would block the whole server meanwhile.
    """

    def __init__(self, path: Path, gated: str) -> None:
        super().__init__(path)
        self.gated = gated
        self.entered = threading.Event()
        self.gate = threading.Event()

    def _pass_gate(self, method: str) -> None:
        if method == self.gated:
            self.entered.set()
            self.gate.wait(GATE_TIMEOUT_S)

    def get_cis(self, keys: Iterable[str]) -> dict[str, CIRecord]:
        self._pass_gate("get_cis")
        return super().get_cis(keys)

    def search_cis(self, ci_filter: CIFilter, *, first: int, after: str | None) -> Page:
        self._pass_gate("search_cis")
        return super().search_cis(ci_filter, first=first, after=after)

    def relationships(
        self, key: str, *, direction: Direction, types: Sequence[str] = ()
    ) -> list[RelationshipRecord]:
        self._pass_gate("relationships")
        return super().relationships(key, direction=direction, types=types)

    def neighbours(
        self, key: str, *, depth: int, direction: Direction, types: Sequence[str] = ()
    ) -> list[Neighbour]:
        self._pass_gate("neighbours")
        return super().neighbours(key, depth=depth, direction=direction, types=types)

    def upsert_cis(
        self, cis: Sequence[CIInput], *, context: ChangeContext, strict: bool = False
    ) -> UpsertResult:
        self._pass_gate("upsert_cis")
        return super().upsert_cis(cis, context=context, strict=strict)

    def retire_ci(self, key: str, *, expected_version: int | None, context: ChangeContext) -> CIRecord:
        self._pass_gate("retire_ci")
        return super().retire_ci(key, expected_version=expected_version, context=context)


NEIGHBOURS_QUERY = '{ ci(key: "sw-core-1") { ... on CI { neighbours(depth: 2) { distance } } } }'
GATED_REQUESTS = [
    ("get_cis", '{ ci(key: "sw-core-1") { __typename } }'),
    ("search_cis", "{ cis(first: 5) { totalCount } }"),
    ("relationships", '{ ci(key: "sw-core-1") { ... on CI { relationships { type } } } }'),
    ("neighbours", NEIGHBOURS_QUERY),
    (
        "upsert_cis",
        'mutation { upsertCIs(input: [{key: "pump-90", ciClass: "MedicalDevice", name: "Pump 90"}])'
        " { __typename } }",
    ),
    ("retire_ci", 'mutation { retireCI(key: "mon-icu-2") { __typename } }'),
]


@pytest.mark.parametrize(("gated", "query"), GATED_REQUESTS, ids=[gated for gated, _ in GATED_REQUESTS])
def test_healthz_answers_while_store_call_waits(tmp_path: Path, gated: str, query: str) -> None:
    store = GatedStore(tmp_path / "cmdb.sqlite3", gated="")
    cis, relationships = load_hospital()
    context = ChangeContext(actor="test-loader", origin=Origin.IMPORT)
    store.upsert_cis(cis, context=context, strict=True)
    store.upsert_relationships(relationships, context=context, strict=True)
    token = create_token(store=store, name="editor", actor="gated-editor", roles=["editor"])
    store.gated = gated
    headers = {"Authorization": f"Bearer {token}"}

    try:
        with serve(create_app(settings=SETTINGS, store=store)) as base_url, ThreadPoolExecutor(1) as pool:
            slow = pool.submit(
                httpx.post, f"{base_url}/graphql", json={"query": query}, headers=headers, timeout=30.0
            )
            entered = store.entered.wait(GATE_TIMEOUT_S)
            started = time.monotonic()
            try:
                health = httpx.get(f"{base_url}/healthz", timeout=HEALTHZ_BUDGET_S * 2)
            finally:
                health_seconds = time.monotonic() - started
                store.gate.set()
            answer = slow.result(timeout=30.0)
    finally:
        store.close()

    assert entered
    assert health.status_code == 200
    assert health_seconds < HEALTHZ_BUDGET_S
    assert answer.status_code == 200
    assert answer.json().get("errors") is None


# Values echoed back in results and messages are cut


@pytest.mark.anyio
async def test_huge_key_not_echoed_whole(hospital_store: GraphStore, viewer_token: str) -> None:
    key = "k" * 100_000
    query = "query($key: String!) { ci(key: $key) { ... on CINotFound { key message } } }"

    body = await post(hospital_store, query, {"key": key}, token=viewer_token)

    found = body["data"]["ci"]
    assert found["key"] == "k" * 197 + "..."
    assert found["message"] == f"CI '{'k' * 77}...' not found; check the key or import the CI first"


@pytest.mark.anyio
async def test_key_at_limit_kept_in_key_field(hospital_store: GraphStore, viewer_token: str) -> None:
    key = "k" * 200
    query = "query($key: String!) { ci(key: $key) { ... on CINotFound { key message } } }"

    body = await post(hospital_store, query, {"key": key}, token=viewer_token)

    assert body["data"]["ci"]["key"] == key
    assert "k" * 81 not in body["data"]["ci"]["message"]


@pytest.mark.anyio
async def test_huge_impact_root_not_echoed_whole(hospital_store: GraphStore, viewer_token: str) -> None:
    query = """
    query($root: String!) {
      impact(input: {roots: [{ci: $root}]}) { ... on CINotFound { key message } }
    }
    """

    body = await post(hospital_store, query, {"root": "r" * 50_000}, token=viewer_token)

    assert len(body["data"]["impact"]["key"]) == 200
    assert len(body["data"]["impact"]["message"]) < 200


@pytest.mark.anyio
async def test_huge_cursor_not_echoed_whole(hospital_store: GraphStore, viewer_token: str) -> None:
    query = "query($after: String) { cis(first: 5, after: $after) { totalCount } }"

    body = await post(hospital_store, query, {"after": "A" * 100_000}, token=viewer_token)

    assert body["data"] is None
    assert body["errors"][0]["message"] == (
        f"invalid cursor '{'A' * 77}...'; pass an endCursor or edge cursor from cis"
    )


@pytest.mark.anyio
async def test_many_unknown_types_listed_briefly(hospital_store: GraphStore, viewer_token: str) -> None:
    query = """
    query($types: [String!]) { ci(key: "sw-core-1") { ... on CI { relationships(types: $types) { type } } } }
    """
    types = [f"{index:03d}" + "T" * 1000 for index in range(100)]

    body = await post(hospital_store, query, {"types": types}, token=viewer_token)

    message = body["errors"][0]["message"]
    assert message.startswith(f"unknown relationship type(s) '000{'T' * 74}...', '001")
    assert f"'004{'T' * 74}...' and 95 more; use one of: " in message
    assert len(message) < 1000


@pytest.mark.anyio
async def test_many_unknown_filter_values_listed_briefly(
    hospital_store: GraphStore, viewer_token: str
) -> None:
    query = "query($classes: [String!]) { cis(first: 5, filter: {classes: $classes}) { totalCount } }"

    body = await post(hospital_store, query, {"classes": ["X" * 5000] * 50}, token=viewer_token)

    message = body["errors"][0]["message"]
    assert message.startswith(f"invalid filter.classes '{'X' * 77}...', ")
    assert " and 45 more; use one of: " in message
    assert len(message) < 1000


# Documents of several operations


TWO_OPERATIONS = (
    "query One { cis(first: 1) { edges { cursor } } } query Two { cis(first: 2) { edges { cursor } } }"
)


@pytest.mark.anyio
async def test_two_operations_without_name_rejected(hospital_store: GraphStore, viewer_token: str) -> None:
    body = await post(hospital_store, TWO_OPERATIONS, token=viewer_token)

    assert body["data"] is None
    assert body["errors"][0]["message"] == (
        "the document contains 2 operations (One, Two); send operationName to choose the one to run"
    )


@pytest.mark.anyio
async def test_two_operations_run_named_one(hospital_store: GraphStore, viewer_token: str) -> None:
    body = await post(hospital_store, TWO_OPERATIONS, token=viewer_token, operation_name="Two")

    assert body.get("errors") is None
    assert len(body["data"]["cis"]["edges"]) == 2


@pytest.mark.anyio
async def test_one_named_operation_runs_without_name(hospital_store: GraphStore, viewer_token: str) -> None:
    body = await post(hospital_store, "query One { cis(first: 1) { totalCount } }", token=viewer_token)

    assert body.get("errors") is None


# Cursors of cis


CURSOR_PAGE = "query($after: String) { cis(first: 2, after: $after) { edges { node { key } } } }"
FORGED_CURSORS = [
    ("skip_true", encode_cursor([None, True])),
    ("skip_zero_from_start", encode_cursor([None, 0])),
    ("skip_over_page", encode_cursor([None, 501])),
    ("skip_negative", encode_cursor([None, -1])),
    ("skip_float", encode_cursor([None, 1.0])),
    ("skip_string", encode_cursor([None, "1"])),
    ("empty_store_cursor", encode_cursor(["", 1])),
    ("store_cursor_number", encode_cursor([5, 1])),
    ("three_items", encode_cursor([None, 1, 2])),
    ("object", encode_cursor({"after": None, "skip": 1})),
    ("compact_json", encode_cursor([None, 1], separators=(",", ":"))),
    ("padding_removed", encode_cursor([None, 12]).rstrip("=")),
    ("trailing_garbage", encode_cursor([None, 1]) + "!!"),
    ("not_base64", "%%%"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("cursor", [c for _, c in FORGED_CURSORS], ids=[name for name, _ in FORGED_CURSORS])
async def test_forged_cursor_rejected(hospital_store: GraphStore, viewer_token: str, cursor: str) -> None:
    body = await post(hospital_store, CURSOR_PAGE, {"after": cursor}, token=viewer_token)

    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("invalid cursor '")
    assert body["errors"][0]["message"].endswith("'; pass an endCursor or edge cursor from cis")


@pytest.mark.anyio
async def test_issued_cursors_accepted(hospital_store: GraphStore, viewer_token: str) -> None:
    first = await post(
        hospital_store,
        "{ cis(first: 3) { pageInfo { endCursor } edges { cursor node { key } } } }",
        token=viewer_token,
    )
    edges = first["data"]["cis"]["edges"]
    after_edge = await post(hospital_store, CURSOR_PAGE, {"after": edges[0]["cursor"]}, token=viewer_token)
    after_page = await post(
        hospital_store,
        CURSOR_PAGE,
        {"after": first["data"]["cis"]["pageInfo"]["endCursor"]},
        token=viewer_token,
    )

    assert [e["node"]["key"] for e in after_edge["data"]["cis"]["edges"]] == [
        e["node"]["key"] for e in edges[1:3]
    ]
    assert after_page.get("errors") is None
    assert len(after_page["data"]["cis"]["edges"]) == 2
