"""Query limits: depth, aliases, tokens and the estimated traversal cost are enforced before execution."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cmdb.app import create_app
from cmdb.auth import create_token
from cmdb.settings import Settings
from cmdb.store.base import GraphStore

SETTINGS = Settings(
    store="sqlite:///unused", max_query_depth=12, max_aliases=30, max_tokens=2000, max_traversal_cost=50_000
)


@pytest.fixture
def token(hospital_store: GraphStore) -> str:
    return create_token(store=hospital_store, name="viewer", actor="viewer", roles=["viewer"])


async def post(
    store: GraphStore, token: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    app = create_app(settings=SETTINGS, store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cmdb.test") as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = response.json()
    return body


def nested_neighbours(levels: int) -> str:
    inner = "key"
    for _ in range(levels):
        inner = f"neighbours {{ ci {{ {inner} }} }}"
    return f'{{ ci(key: "sw-core-1") {{ ... on CI {{ {inner} }} }} }}'


@pytest.mark.anyio
async def test_too_deep_query_rejected(hospital_store: GraphStore, token: str) -> None:
    body = await post(hospital_store, token, nested_neighbours(8))

    assert body["data"] is None
    assert "exceeds maximum operation depth of 12" in body["errors"][0]["message"]


@pytest.mark.anyio
async def test_query_within_depth_runs(hospital_store: GraphStore, token: str) -> None:
    body = await post(hospital_store, token, nested_neighbours(2))

    assert body.get("errors") is None
    assert body["data"]["ci"]["neighbours"]


@pytest.mark.anyio
async def test_too_many_aliases_rejected(hospital_store: GraphStore, token: str) -> None:
    fields = " ".join(f'a{i}: ci(key: "sw-core-1") {{ __typename }}' for i in range(31))

    body = await post(hospital_store, token, f"{{ {fields} }}")

    assert body["data"] is None
    assert body["errors"][0]["message"] == "31 aliases found. Allowed: 30"


@pytest.mark.anyio
async def test_too_many_tokens_rejected(hospital_store: GraphStore, token: str) -> None:
    fields = " ".join(["__typename"] * 2100)

    body = await post(hospital_store, token, f"{{ {fields} }}")

    assert body["data"] is None
    assert (
        body["errors"][0]["message"]
        == "Syntax Error: Document contains more than 2000 tokens. Parsing aborted."
    )


@pytest.mark.anyio
async def test_deep_neighbours_in_large_page_rejected(hospital_store: GraphStore, token: str) -> None:
    query = "{ cis(first: 500) { edges { node { neighbours(depth: 10) { distance } } } } }"

    body = await post(hospital_store, token, query)

    assert body["data"] is None
    message = body["errors"][0]["message"]
    assert message.startswith("estimated traversal cost 5000500 of the query exceeds the limit of 50000")
    assert "lower first or neighbours depth" in message


@pytest.mark.anyio
async def test_cost_reads_variables(hospital_store: GraphStore, token: str) -> None:
    query = """
    query Browse($first: Int!, $depth: Int!) {
      cis(first: $first) { edges { node { neighbours(depth: $depth) { distance } } } }
    }
    """

    rejected = await post(hospital_store, token, query, {"first": 500, "depth": 10})
    accepted = await post(hospital_store, token, query, {"first": 5, "depth": 2})

    assert rejected["errors"][0]["message"].startswith("estimated traversal cost 5000500 of Browse")
    assert accepted.get("errors") is None
    assert len(accepted["data"]["cis"]["edges"]) == 5


@pytest.mark.anyio
async def test_cost_counts_fragments(hospital_store: GraphStore, token: str) -> None:
    query = """
    fragment Far on CI { neighbours(depth: 10) { distance } }
    { cis(first: 500) { edges { node { ...Far } } } }
    """

    body = await post(hospital_store, token, query)

    assert body["errors"][0]["message"].startswith("estimated traversal cost 5000500")


@pytest.mark.anyio
async def test_impact_within_cost_runs(hospital_store: GraphStore, token: str) -> None:
    query = """
    { impact(input: {roots: [{ci: "sw-core-1"}]}) {
        ... on ImpactReport { impacted(first: 500) { totalCount edges { node { pathCIs { key } } } } }
    } }
    """

    body = await post(hospital_store, token, query)

    assert body.get("errors") is None
    assert body["data"]["impact"]["impacted"]["totalCount"] > 0
