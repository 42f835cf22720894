"""The six reference scenarios over HTTP GraphQL give the same answers on Neo4j as on SQLite.

Both stores hold the reference hospital; each sits behind its own app served by uvicorn on
127.0.0.1 at a free port, in a thread of the test process. The Neo4j store uses the server at
NEO4J_URI, emptied first; without one the tests fail on CI and are skipped elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cmdb.app import create_app
from cmdb.auth import create_token
from cmdb.model import ChangeContext, Origin
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.store.base import GraphStore
from tests.integration.uvicorn_helpers import serve
from tests.reference import expected_answers, load_hospital, scenarios, without_paths

pytestmark = pytest.mark.integration

IMPACT_QUERY = """
query Impact($input: ImpactInput!, $first: Int!) {
  impact(input: $input) {
    __typename
    ... on ImpactReport {
      impactLevel urgency priority impactedCount
      services { key name state }
      departments { key name state }
      lifeCriticalDevices { key name state }
      stakeholders { key name }
      informed { key name }
      locations { location name impacted lifeCritical }
      impacted(first: $first) {
        totalCount
        pageInfo { hasNextPage }
        edges { node { key name state distance path pathTypes } }
      }
    }
  }
}
"""

# The reference hospital has 72 CIs, so one page of 500 holds every impacted CI.
PAGE_SIZE = 500

# Fields of an ImpactReport compared one by one, in the query's order.
REPORT_FIELDS = (
    "impactLevel",
    "urgency",
    "priority",
    "impactedCount",
    "services",
    "departments",
    "lifeCriticalDevices",
    "stakeholders",
    "informed",
    "locations",
)


@dataclass(frozen=True, slots=True)
class Served:
    """An app served over HTTP, and the token to call it with."""

    base_url: str
    token: str


def _load(store: GraphStore) -> str:
    """Load the reference hospital into ``store`` and return a viewer token for it."""
    cis, relationships = load_hospital()
    context = ChangeContext(actor="test-loader", origin=Origin.IMPORT)
    assert store.upsert_cis(cis, context=context, strict=True).added == len(cis)
    assert store.upsert_relationships(relationships, context=context, strict=True).added == len(relationships)
    return create_token(store=store, name="viewer", actor="viewer", roles=["viewer"])


def _empty_neo4j(uri: str) -> None:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(uri) as driver, driver.session(database="neo4j") as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()


@contextmanager
def _served_store(url: str) -> Iterator[Served]:
    store = open_store(url)
    try:
        token = _load(store)
        app = create_app(settings=Settings(store=url, graphiql=False), store=store)
        with serve(app) as base_url:
            yield Served(base_url=base_url, token=token)
    finally:
        store.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Served]]:
    """Return the SQLite and the Neo4j app, both serving the reference hospital."""
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        reason = "NEO4J_URI is not set; start a server with scripts/neo4j/start"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    _empty_neo4j(uri)
    sqlite_path: Path = tmp_path_factory.mktemp("serve") / "cmdb.sqlite3"
    try:
        with _served_store(f"sqlite:///{sqlite_path}") as sqlite, _served_store(uri) as neo4j:
            yield sqlite, neo4j
    finally:
        _empty_neo4j(uri)


def _impact(served: Served, scenario: dict[str, Any]) -> dict[str, Any]:
    variables = {
        "first": PAGE_SIZE,
        "input": {
            "roots": [{"ci": key, "mode": mode} for key, mode in scenario["roots"].items()],
            "overrides": scenario.get("overrides", []),
            "openIncidents": [
                {"ci": key, "state": state} for key, state in scenario.get("open_incidents", {}).items()
            ],
            "urgency": scenario["urgency"],
        },
    }
    response = httpx.post(
        f"{served.base_url}/graphql",
        json={"query": IMPACT_QUERY, "variables": variables},
        headers={"Authorization": f"Bearer {served.token}"},
        timeout=30.0,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body.get("errors") is None, body
    report: dict[str, Any] = body["data"]["impact"]
    assert report["__typename"] == "ImpactReport", report
    assert report["impacted"]["pageInfo"]["hasNextPage"] is False
    return report


def _impacted_by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {edge["node"]["key"]: edge["node"] for edge in report["impacted"]["edges"]}


SCENARIO_NAMES = [scenario["name"] for scenario in scenarios()]


def test_six_reference_scenarios() -> None:
    assert len(SCENARIO_NAMES) == 6


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_scenario_same_on_both_stores(name: str, servers: tuple[Served, Served]) -> None:
    sqlite, neo4j = servers
    scenario = next(s for s in scenarios() if s["name"] == name)
    expected = _impact(sqlite, scenario)
    actual = _impact(neo4j, scenario)

    for field in REPORT_FIELDS:
        assert actual[field] == expected[field], field
    assert actual["impacted"]["totalCount"] == expected["impacted"]["totalCount"]

    expected_nodes = _impacted_by_key(expected)
    actual_nodes = _impacted_by_key(actual)
    assert set(actual_nodes) == set(expected_nodes)
    for key, node in expected_nodes.items():
        for field in ("name", "state", "distance", "path", "pathTypes"):
            assert actual_nodes[key][field] == node[field], (key, field)


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_neo4j_scenario_matches_expected(name: str, servers: tuple[Served, Served]) -> None:
    _, neo4j = servers
    scenario = next(s for s in scenarios() if s["name"] == name)
    report = _impact(neo4j, scenario)
    expected = without_paths(expected_answers()[name])

    impacted = {
        key: {"state": node["state"], "distance": node["distance"]}
        for key, node in _impacted_by_key(report).items()
    }
    assert impacted == expected["impacted"]
    assert {entry["key"]: entry["state"] for entry in report["services"]} == expected["services"]
    assert {entry["key"]: entry["state"] for entry in report["departments"]} == expected["departments"]
    assert report["impactLevel"] == expected["impact_level"]
    assert report["priority"] == expected["priority"]
