"""CI history, version diffs and impact as of an instant through GraphQL over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cmdb.store.base import GraphStore
from tests.conformance.conftest import STORE_FACTORIES, StoreFactory
from tests.integration.test_graphql_changes import (
    ROLLBACK,
    Api,
    approve_all,
    load_reference_hospital,
    load_scenario,
    make_api,
)

HISTORY = """
query($key: String!) {
  ci(key: $key) {
    __typename
    ... on CI {
      version
      history { version operation actor origin requestId changeId validFrom validTo snapshot }
    }
  }
}
"""

DIFF = """
query($key: String!, $from: Int!, $to: Int!) {
  ci(key: $key) {
    ... on CI { diff(from: $from, to: $to) { field from to } }
  }
}
"""

UPSERT_RELATIONSHIPS = """
mutation($input: [RelationshipInput!]!) {
  upsertRelationships(input: $input) {
    __typename
    ... on UpsertResult { added updated unchanged }
  }
}
"""

RETIRE_CI = """
mutation($key: String!) {
  retireCI(key: $key) {
    __typename
    ... on CI { key status version }
  }
}
"""

IMPACT_FIELDS = """
    __typename
    ... on ImpactReport {
      impactedCount
      impacted(first: 500) { edges { node { key state } } }
      services { key state }
    }
    ... on CINotFound { key message }
    ... on ValidationFailed { message errors { field value } }
"""

IMPACT_AS_OF = f"""
query($input: ImpactInput!, $asOf: DateTime!) {{
  impactAsOf(input: $input, asOf: $asOf) {{ {IMPACT_FIELDS} }}
}}
"""

IMPACT_NOW = f"""
query($input: ImpactInput!) {{
  impact(input: $input) {{ {IMPACT_FIELDS} }}
}}
"""

# Headers a client might send to pose as someone else; the actor must still come from the token.
SPOOFED = {"X-Actor": "mallory", "X-Forwarded-User": "mallory", "X-Remote-User": "mallory"}
RIS_DOWN = {"roots": [{"ci": "vm-ris", "mode": "DOWN"}]}


@pytest.fixture(params=STORE_FACTORIES)
def hospital(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """A fresh store of each kind in turn, holding the reference hospital."""
    factory: StoreFactory = request.param
    with factory(tmp_path) as opened:
        load_reference_hospital(opened)
        yield opened


@pytest.fixture
def api(hospital: GraphStore) -> Api:
    return make_api(hospital)


async def history(api: Api, key: str) -> list[dict[str, Any]]:
    data = await api.data(HISTORY, {"key": key}, token="viewer")
    assert data["ci"]["__typename"] == "CI", data
    versions: list[dict[str, Any]] = data["ci"]["history"]
    return versions


def provenance(versions: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Return (version, operation, actor, origin, request id, change id) of each version."""
    return [
        (v["version"], v["operation"], v["actor"], v["origin"], v["requestId"], v["changeId"])
        for v in versions
    ]


async def implement_chg1(api: Api) -> None:
    """Load the scenario, approve CHG-1 and implement it in its next free slot under a known request id."""
    await load_scenario(api)
    await approve_all(api, "CHG-1")
    data = await api.data(
        """mutation { implementChange(id: "CHG-1", at: "2027-01-05T10:00:00-06:00") { __typename } }""",
        token="change_manager",
        headers={"X-Request-ID": "req-implement-chg-1", **SPOOFED},
    )
    assert data["implementChange"]["__typename"] == "Change"


@pytest.mark.anyio
async def test_history_of_implemented_change(api: Api) -> None:
    await implement_chg1(api)

    versions = await history(api, "app-ehr")

    assert provenance(versions) == [
        (1, "create", "test-loader", "import", "load-hospital", None),
        (2, "update", "change_manager-actor", "change", "req-implement-chg-1", "CHG-1"),
    ]
    assert versions[0]["validTo"] == versions[1]["validFrom"]
    assert versions[1]["validTo"] is None
    assert versions[0]["snapshot"]["attributes"]["version"] == "2025.2"
    assert versions[1]["snapshot"]["attributes"]["version"] == "2025.3"


@pytest.mark.anyio
async def test_history_actor_from_token(api: Api) -> None:
    data = await api.data(
        RETIRE_CI, {"key": "app-aims"}, token="editor", headers={"X-Request-ID": "req-retire-aims", **SPOOFED}
    )

    versions = await history(api, "app-aims")

    assert data["retireCI"] == {"__typename": "CI", "key": "app-aims", "status": "retired", "version": 2}
    assert provenance(versions)[-1] == (2, "retire", "editor-actor", "api", "req-retire-aims", None)
    assert "mallory" not in {v["actor"] for v in versions}


@pytest.mark.anyio
async def test_history_of_rollback(api: Api) -> None:
    await implement_chg1(api)
    await api.data(
        ROLLBACK,
        {"id": "CHG-1", "force": False, "at": "2027-01-05T12:00:00-06:00"},
        token="change_manager",
        headers={"X-Request-ID": "req-rollback-chg-1"},
    )

    versions = await history(api, "cfg-sepsis")

    assert provenance(versions)[1:] == [
        (2, "update", "change_manager-actor", "change", "req-implement-chg-1", "CHG-1"),
        (3, "update", "change_manager-actor", "change", "req-rollback-chg-1", "CHG-1"),
    ]
    assert versions[2]["snapshot"]["attributes"]["version"] == "14"


@pytest.mark.anyio
async def test_diff_shows_changed_attribute(api: Api) -> None:
    await implement_chg1(api)

    forward = await api.data(DIFF, {"key": "app-ehr", "from": 1, "to": 2}, token="viewer")
    backward = await api.data(DIFF, {"key": "app-ehr", "from": 2, "to": 1}, token="viewer")
    same = await api.data(DIFF, {"key": "app-ehr", "from": 2, "to": 2}, token="viewer")

    assert forward["ci"]["diff"] == [{"field": "attributes.version", "from": "2025.2", "to": "2025.3"}]
    assert backward["ci"]["diff"] == [{"field": "attributes.version", "from": "2025.3", "to": "2025.2"}]
    assert same["ci"]["diff"] == []


@pytest.mark.anyio
async def test_diff_of_retirement(api: Api) -> None:
    await api.data(RETIRE_CI, {"key": "app-aims"}, token="editor")

    data = await api.data(DIFF, {"key": "app-aims", "from": 1, "to": 2}, token="viewer")

    assert data["ci"]["diff"] == [{"field": "status", "from": "in_service", "to": "retired"}]


@pytest.mark.anyio
async def test_diff_unknown_version_names_it(api: Api) -> None:
    body = await api.post(DIFF, {"key": "app-ehr", "from": 1, "to": 7}, token="viewer")

    assert body["data"] is None
    message = body["errors"][0]["message"]
    assert "no version 7" in message
    assert "its versions are 1" in message


async def impact_as_of(api: Api, at: datetime) -> dict[str, Any]:
    data = await api.data(IMPACT_AS_OF, {"input": RIS_DOWN, "asOf": at.isoformat()}, token="viewer")
    report: dict[str, Any] = data["impactAsOf"]
    return report


def impacted(report: dict[str, Any]) -> dict[str, str]:
    assert report["__typename"] == "ImpactReport", report
    return {edge["node"]["key"]: edge["node"]["state"] for edge in report["impacted"]["edges"]}


async def tick() -> datetime:
    """Return the current instant, set apart from the writes before and after it."""
    await asyncio.sleep(0.02)
    instant = datetime.now(UTC)
    await asyncio.sleep(0.02)
    return instant


@pytest.mark.anyio
async def test_impact_as_of_old_graph(api: Api) -> None:
    before_link = await tick()
    added = await api.data(
        UPSERT_RELATIONSHIPS,
        {"input": [{"source": "app-aims", "type": "DEPENDS_ON", "target": "vm-ris"}]},
        token="editor",
    )
    between = await tick()
    retired = await api.data(RETIRE_CI, {"key": "app-aims"}, token="editor")

    old = impacted(await impact_as_of(api, before_link))
    middle = impacted(await impact_as_of(api, between))
    now = impacted((await api.data(IMPACT_NOW, {"input": RIS_DOWN}, token="viewer"))["impact"])

    assert added["upsertRelationships"] == {
        "__typename": "UpsertResult",
        "added": 1,
        "updated": 0,
        "unchanged": 0,
    }
    assert retired["retireCI"]["status"] == "retired"
    assert "app-aims" not in old
    assert "svc-periop" not in old
    assert middle["app-aims"] == "DOWN"
    assert "svc-periop" in middle
    assert "app-aims" not in now
    assert set(old) < set(middle)
    assert set(now) == set(old)


@pytest.mark.anyio
async def test_impact_as_of_matches_now(api: Api) -> None:
    now = await tick()

    as_of = await impact_as_of(api, now)
    current = (await api.data(IMPACT_NOW, {"input": RIS_DOWN}, token="viewer"))["impact"]

    assert as_of == current


@pytest.mark.anyio
async def test_impact_as_of_before_ci_existed(api: Api) -> None:
    report = await impact_as_of(api, datetime(2020, 1, 1, tzinfo=UTC))

    assert report["__typename"] == "CINotFound"
    assert report["key"] == "vm-ris"


@pytest.mark.anyio
async def test_impact_as_of_needs_utc_offset(api: Api) -> None:
    data = await api.data(IMPACT_AS_OF, {"input": RIS_DOWN, "asOf": "2027-01-05T09:00:00"}, token="viewer")

    report = data["impactAsOf"]
    assert report["__typename"] == "ValidationFailed"
    assert report["errors"] == [{"field": "asOf", "value": "2027-01-05T09:00:00"}]
