"""The six reference scenarios through GraphQL on a real SQLite store, and impact's union results."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cmdb.app import create_app
from cmdb.auth import create_token
from cmdb.model import RELATIONSHIP_TYPES, Flow
from cmdb.settings import Settings
from cmdb.store.base import GraphStore
from tests.reference import expected_answers, load_hospital, path_problems, scenarios, without_paths

IMPACT_QUERY = """
query Impact($input: ImpactInput!, $first: Int!, $after: String) {
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
      impacted(first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node { key name state distance path pathTypes ci { key name } pathCIs { key } } }
      }
    }
    ... on CINotFound { key message }
    ... on ValidationFailed { message errors { field message value } }
  }
}
"""


@pytest.fixture
def viewer_token(hospital_store: GraphStore) -> str:
    return create_token(store=hospital_store, name="viewer", actor="nurse-viewer", roles=["viewer"])


async def run_query(
    store: GraphStore, token: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    app = create_app(settings=Settings(store="sqlite:///unused", graphiql=False), store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cmdb.test") as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def impact_input(scenario: dict[str, Any]) -> dict[str, Any]:
    return {
        "roots": [{"ci": key, "mode": mode} for key, mode in scenario["roots"].items()],
        "overrides": scenario.get("overrides", []),
        "openIncidents": [
            {"ci": key, "state": state} for key, state in scenario.get("open_incidents", {}).items()
        ],
        "urgency": scenario["urgency"],
    }


async def impact_in_expected_shape(
    store: GraphStore, token: str, scenario: dict[str, Any], page_size: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run a scenario, follow every page of impacted, and map the result onto expected.json's shape."""
    nodes: list[dict[str, Any]] = []
    after: str | None = None
    report: dict[str, Any] = {}
    while True:
        body = await run_query(
            store,
            token,
            IMPACT_QUERY,
            {"input": impact_input(scenario), "first": page_size, "after": after},
        )
        assert body.get("errors") is None, body
        report = body["data"]["impact"]
        assert report["__typename"] == "ImpactReport", report
        connection = report["impacted"]
        nodes.extend(edge["node"] for edge in connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    answer = {
        "impacted": {
            node["key"]: {"state": node["state"], "distance": node["distance"], "path": node["path"]}
            for node in nodes
        },
        "services": {entry["key"]: entry["state"] for entry in report["services"]},
        "departments": {entry["key"]: entry["state"] for entry in report["departments"]},
        "life_critical_devices": [entry["key"] for entry in report["lifeCriticalDevices"]],
        "impact_level": report["impactLevel"],
        "urgency": report["urgency"],
        "priority": report["priority"],
        "stakeholders": [entry["key"] for entry in report["stakeholders"]],
        "informed": [entry["key"] for entry in report["informed"]],
        "locations": {
            entry["location"]: {"impacted": entry["impacted"], "life_critical": entry["lifeCritical"]}
            for entry in report["locations"]
        },
    }
    assert report["impactedCount"] == len(nodes)
    assert report["impacted"]["totalCount"] == len(nodes)
    return answer, nodes


def typed_flow_steps() -> set[tuple[str, str, str]]:
    """Return (from, to, type) for every impact-carrying step of the reference hospital."""
    _, relationships = load_hospital()
    steps: set[tuple[str, str, str]] = set()
    for rel in relationships:
        flow = RELATIONSHIP_TYPES[rel.type].flow
        if flow is Flow.TARGET_TO_SOURCE:
            steps.add((rel.target, rel.source, rel.type))
        elif flow in (Flow.SOURCE_TO_TARGET, Flow.QUORUM):
            steps.add((rel.source, rel.target, rel.type))
    return steps


SCENARIO_NAMES = [scenario["name"] for scenario in scenarios()]


@pytest.mark.anyio
@pytest.mark.parametrize("name", SCENARIO_NAMES)
async def test_reference_scenario_matches_expected(
    name: str, hospital_store: GraphStore, viewer_token: str
) -> None:
    scenario = next(s for s in scenarios() if s["name"] == name)
    expected = expected_answers()[name]

    answer, _ = await impact_in_expected_shape(hospital_store, viewer_token, scenario, page_size=7)

    assert without_paths(answer) == without_paths(expected)
    assert set(answer) == set(expected)
    flow_pairs = {(source, target) for source, target, _ in typed_flow_steps()}
    assert path_problems(answer, set(scenario["roots"]), flow_pairs) == []


@pytest.mark.anyio
@pytest.mark.parametrize("name", SCENARIO_NAMES)
async def test_reference_scenario_path_types_and_cis(
    name: str, hospital_store: GraphStore, viewer_token: str
) -> None:
    scenario = next(s for s in scenarios() if s["name"] == name)
    steps = typed_flow_steps()

    _, nodes = await impact_in_expected_shape(hospital_store, viewer_token, scenario, page_size=500)

    for node in nodes:
        path, types = node["path"], node["pathTypes"]
        assert len(types) == len(path) - 1, node["key"]
        for before, after, rel_type in zip(path, path[1:], types, strict=False):
            assert (before, after, rel_type) in steps, f"{node['key']}: {before} {rel_type} {after}"
        assert [ci["key"] for ci in node["pathCIs"]] == path
        assert node["ci"]["key"] == node["key"]
        assert node["ci"]["name"] == node["name"]


@pytest.mark.anyio
async def test_impacted_pages_cover_each_ci_once(hospital_store: GraphStore, viewer_token: str) -> None:
    scenario = next(s for s in scenarios() if s["name"] == "one-core-switch-down")

    _, small_pages = await impact_in_expected_shape(hospital_store, viewer_token, scenario, page_size=3)
    _, one_page = await impact_in_expected_shape(hospital_store, viewer_token, scenario, page_size=500)

    small_keys = [node["key"] for node in small_pages]
    assert len(small_keys) == len(set(small_keys))
    assert small_keys == [node["key"] for node in one_page]
    distances = [node["distance"] for node in one_page]
    assert distances == sorted(distances)


@pytest.mark.anyio
async def test_impacted_filtered_by_state(hospital_store: GraphStore, viewer_token: str) -> None:
    query = """
    query($input: ImpactInput!) {
      impact(input: $input) {
        ... on ImpactReport {
          impacted(first: 500, states: [AT_RISK]) { totalCount edges { node { state } } }
        }
      }
    }
    """
    scenario = next(s for s in scenarios() if s["name"] == "one-core-switch-down")
    expected = expected_answers()["one-core-switch-down"]
    at_risk = [key for key, entry in expected["impacted"].items() if entry["state"] == "AT_RISK"]

    body = await run_query(hospital_store, viewer_token, query, {"input": impact_input(scenario)})

    connection = body["data"]["impact"]["impacted"]
    assert connection["totalCount"] == len(at_risk)
    assert {edge["node"]["state"] for edge in connection["edges"]} == {"AT_RISK"}


@pytest.mark.anyio
async def test_impact_unknown_root_is_ci_not_found(hospital_store: GraphStore, viewer_token: str) -> None:
    variables = {"input": {"roots": [{"ci": "no-such-ci", "mode": "DOWN"}]}, "first": 10}

    body = await run_query(hospital_store, viewer_token, IMPACT_QUERY, variables)

    assert body.get("errors") is None
    result = body["data"]["impact"]
    assert result["__typename"] == "CINotFound"
    assert result["key"] == "no-such-ci"
    assert "no-such-ci" in result["message"]


@pytest.mark.anyio
async def test_impact_bad_urgency_is_validation_failed(hospital_store: GraphStore, viewer_token: str) -> None:
    variables = {"input": {"roots": [{"ci": "sw-core-1"}], "urgency": 7}, "first": 10}

    body = await run_query(hospital_store, viewer_token, IMPACT_QUERY, variables)

    result = body["data"]["impact"]
    assert result["__typename"] == "ValidationFailed"
    assert result["errors"] == [
        {"field": "input.urgency", "message": "invalid urgency; use 1 (high), 2 or 3 (low)", "value": "7"}
    ]


@pytest.mark.anyio
async def test_impact_without_roots_is_validation_failed(
    hospital_store: GraphStore, viewer_token: str
) -> None:
    body = await run_query(hospital_store, viewer_token, IMPACT_QUERY, {"input": {"roots": []}, "first": 10})

    result = body["data"]["impact"]
    assert result["__typename"] == "ValidationFailed"
    assert result["errors"][0]["field"] == "input.roots"


@pytest.mark.anyio
async def test_impact_report_names_and_locations(hospital_store: GraphStore, viewer_token: str) -> None:
    scenario = next(s for s in scenarios() if s["name"] == "icu-access-switch-down")

    body = await run_query(
        hospital_store, viewer_token, IMPACT_QUERY, {"input": impact_input(scenario), "first": 50}
    )

    report = body["data"]["impact"]
    assert {(d["key"], d["name"]) for d in report["departments"]} == {("dept-icu", "Intensive Care")}
    assert ("loc-icu", "ICU 3 North") in {(loc["location"], loc["name"]) for loc in report["locations"]}
    assert ("team-netops", "Network Operations") in {(s["key"], s["name"]) for s in report["stakeholders"]}
