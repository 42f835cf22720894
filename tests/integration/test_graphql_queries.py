"""Reads through GraphQL: CI lookup, search with pagination, neighbours, limits and read access."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cmdb.app import create_app
from cmdb.auth import create_token
from cmdb.settings import Settings
from cmdb.store.base import GraphStore
from tests.reference import load_hospital

CIS_PAGE = """
query($first: Int!, $after: String, $filter: CIFilterInput) {
  cis(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { key } }
  }
}
"""


@pytest.fixture
def viewer_token(hospital_store: GraphStore) -> str:
    return create_token(store=hospital_store, name="viewer", actor="nurse-viewer", roles=["viewer"])


async def post(
    store: GraphStore,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    app = create_app(settings=settings or Settings(store="sqlite:///unused", graphiql=False), store=store)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cmdb.test") as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def all_keys(
    store: GraphStore, token: str, first: int, filter_: dict[str, Any] | None = None
) -> list[str]:
    keys: list[str] = []
    after: str | None = None
    while True:
        body = await post(store, CIS_PAGE, {"first": first, "after": after, "filter": filter_}, token=token)
        connection = body["data"]["cis"]
        keys.extend(edge["node"]["key"] for edge in connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            return keys
        after = connection["pageInfo"]["endCursor"]


@pytest.mark.anyio
async def test_ci_lookup_returns_fields(hospital_store: GraphStore, viewer_token: str) -> None:
    query = """
    { ci(key: "sw-core-2") {
        __typename
        ... on CI { key ciClass name status criticality version attributes tags sources firstSeen
                    identifiers { serial ips macs } }
    } }
    """

    body = await post(hospital_store, query, token=viewer_token)

    ci = body["data"]["ci"]
    assert ci["__typename"] == "CI"
    assert ci["ciClass"] == "NetworkDevice"
    assert ci["name"] == "core-sw-2"
    assert ci["criticality"] == "patient_care"
    assert ci["status"] == "in_service"
    assert ci["version"] == 1
    assert ci["attributes"] == {"vendor": "Cisco", "model": "C9500-48Y4C"}
    assert ci["identifiers"] == {"serial": "FDO2301A1AB", "ips": ["10.0.0.2"], "macs": []}


@pytest.mark.anyio
async def test_ci_unknown_key_is_ci_not_found(hospital_store: GraphStore, viewer_token: str) -> None:
    body = await post(
        hospital_store,
        '{ ci(key: "nope") { __typename ... on CINotFound { key message } } }',
        token=viewer_token,
    )

    assert body["data"]["ci"] == {
        "__typename": "CINotFound",
        "key": "nope",
        "message": "CI 'nope' not found; check the key or import the CI first",
    }


@pytest.mark.anyio
async def test_cis_pages_cover_every_ci_once(hospital_store: GraphStore, viewer_token: str) -> None:
    expected = sorted(ci.key for ci in load_hospital()[0])

    paged = await all_keys(hospital_store, viewer_token, first=10)
    whole = await all_keys(hospital_store, viewer_token, first=500)

    assert paged == expected
    assert whole == expected


@pytest.mark.anyio
async def test_cis_edge_cursor_resumes_after_edge(hospital_store: GraphStore, viewer_token: str) -> None:
    first_page = await post(hospital_store, CIS_PAGE, {"first": 10}, token=viewer_token)
    edges = first_page["data"]["cis"]["edges"]
    resumed = await post(
        hospital_store, CIS_PAGE, {"first": 4, "after": edges[5]["cursor"]}, token=viewer_token
    )

    assert [e["node"]["key"] for e in resumed["data"]["cis"]["edges"]] == [
        e["node"]["key"] for e in edges[6:10]
    ]
    assert resumed["data"]["cis"]["totalCount"] == len(load_hospital()[0])


@pytest.mark.anyio
async def test_cis_filter_by_class_and_criticality(hospital_store: GraphStore, viewer_token: str) -> None:
    expected = sorted(
        ci.key
        for ci in load_hospital()[0]
        if ci.ci_class == "MedicalDevice" and ci.criticality == "life_critical"
    )

    keys = await all_keys(
        hospital_store,
        viewer_token,
        first=2,
        filter_={"classes": ["MedicalDevice"], "criticalities": ["life_critical"]},
    )

    assert keys == expected


@pytest.mark.anyio
async def test_cis_unknown_filter_value_rejected(hospital_store: GraphStore, viewer_token: str) -> None:
    body = await post(
        hospital_store, CIS_PAGE, {"first": 5, "filter": {"classes": ["Toaster"]}}, token=viewer_token
    )

    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("invalid filter.classes 'Toaster'; use one of:")


@pytest.mark.anyio
async def test_cis_page_over_500_rejected(hospital_store: GraphStore, viewer_token: str) -> None:
    body = await post(hospital_store, CIS_PAGE, {"first": 501}, token=viewer_token)

    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("invalid page size first=501; use 1 to 500")


@pytest.mark.anyio
async def test_cis_foreign_cursor_rejected(hospital_store: GraphStore, viewer_token: str) -> None:
    body = await post(hospital_store, CIS_PAGE, {"first": 5, "after": "bm90LWEtY3Vyc29y"}, token=viewer_token)

    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("invalid cursor 'bm90LWEtY3Vyc29y'")


@pytest.mark.anyio
async def test_neighbours_and_relationships(hospital_store: GraphStore, viewer_token: str) -> None:
    query = """
    { ci(key: "sw-acc-icu") { ... on CI {
        relationships(direction: INCOMING, types: ["CONNECTS_TO"]) {
          source type target strength sourceCI { name }
        }
        neighbours(depth: 2, direction: INCOMING, types: ["CONNECTS_TO"]) { distance ci { key } }
    } } }
    """
    expected_sources = {
        rel.source for rel in load_hospital()[1] if rel.target == "sw-acc-icu" and rel.type == "CONNECTS_TO"
    }

    body = await post(hospital_store, query, token=viewer_token)

    ci = body["data"]["ci"]
    assert {rel["source"] for rel in ci["relationships"]} == expected_sources
    assert {rel["type"] for rel in ci["relationships"]} == {"CONNECTS_TO"}
    for rel in ci["relationships"]:
        assert rel["sourceCI"]["name"], rel["source"]
    assert {n["ci"]["key"] for n in ci["neighbours"] if n["distance"] == 1} == expected_sources
    assert ("mon-icu-1", "soft") in {(rel["source"], rel["strength"]) for rel in ci["relationships"]}


@pytest.mark.anyio
async def test_neighbours_depth_out_of_range(hospital_store: GraphStore, viewer_token: str) -> None:
    body = await post(
        hospital_store,
        '{ ci(key: "sw-core-1") { ... on CI { neighbours(depth: 11) { distance } } } }',
        token=viewer_token,
    )

    assert body["errors"][0]["message"] == "invalid depth 11; use 1 to 10"


@pytest.mark.anyio
async def test_read_without_token_rejected(hospital_store: GraphStore) -> None:
    body = await post(hospital_store, '{ ci(key: "sw-core-1") { __typename } }')

    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("authentication required")


@pytest.mark.anyio
async def test_read_without_token_when_open(hospital_store: GraphStore) -> None:
    settings = Settings(store="sqlite:///unused", open_reads=True)

    body = await post(hospital_store, '{ ci(key: "sw-core-1") { __typename } }', settings=settings)

    assert body.get("errors") is None
    assert body["data"]["ci"] == {"__typename": "CI"}


@pytest.mark.anyio
async def test_unknown_token_rejected_even_when_open(hospital_store: GraphStore) -> None:
    settings = Settings(store="sqlite:///unused", open_reads=True)

    body = await post(
        hospital_store, '{ ci(key: "sw-core-1") { __typename } }', token="wrong", settings=settings
    )

    assert body["errors"][0]["message"].startswith("invalid or unknown API token")


@pytest.mark.anyio
async def test_store_failure_masked_with_request_id(
    hospital_store: GraphStore, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings=Settings(store="sqlite:///unused", open_reads=True), store=hospital_store)
    hospital_store.close()
    transport = httpx.ASGITransport(app=app)

    async with httpx.AsyncClient(transport=transport, base_url="http://cmdb.test") as client:
        response = await client.post(
            "/graphql",
            json={"query": '{ ci(key: "sw-core-1") { __typename } }'},
            headers={"X-Request-ID": "req-7"},
        )

    message = response.json()["errors"][0]["message"]
    assert message == "internal error; the server log has the details under request id req-7"
    assert "closed" not in message
    logged = [r for r in caplog.records if r.name == "cmdb.graphql.errors"]
    assert [r.getMessage() for r in logged] == ["unexpected error in request req-7 at ci"]
    assert logged[0].exc_info is not None
