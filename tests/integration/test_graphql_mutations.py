"""Writes through GraphQL: union results, all-or-nothing batches, roles and the actor in history."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cmdb.app import create_app
from cmdb.auth import create_token
from cmdb.model import Direction
from cmdb.settings import Settings
from cmdb.store.base import GraphStore

UPSERT_CIS = """
mutation($input: [CIInput!]!) {
  upsertCIs(input: $input) {
    __typename
    ... on UpsertResult { added updated unchanged }
    ... on ValidationFailed { message errors { field message value } }
    ... on VersionConflict { key expectedVersion actualVersion message }
  }
}
"""

UPSERT_RELATIONSHIPS = """
mutation($input: [RelationshipInput!]!) {
  upsertRelationships(input: $input) {
    __typename
    ... on UpsertResult { added updated unchanged }
    ... on ValidationFailed { message errors { field message value } }
    ... on CINotFound { key message }
  }
}
"""

RETIRE_CI = """
mutation($key: String!, $version: Int) {
  retireCI(key: $key, expectedVersion: $version) {
    __typename
    ... on CI { key status version }
    ... on CINotFound { key message }
    ... on VersionConflict { key expectedVersion actualVersion }
  }
}
"""

PUMP = {
    "key": "pump-icu-9",
    "ciClass": "MedicalDevice",
    "name": "Infusion pump ICU 9",
    "criticality": "life_critical",
    "identifiers": {"serial": "PMP-0009", "macs": ["00-1A-2B-3C-4D-5E"]},
    "attributes": {"manufacturer": "BD", "model": "Alaris 8015"},
    "tags": ["Medication"],
}


@pytest.fixture
def tokens(hospital_store: GraphStore) -> dict[str, str]:
    return {
        role: create_token(store=hospital_store, name=f"{role}-token", actor=f"{role}-actor", roles=[role])
        for role in ("viewer", "editor", "biomed", "admin")
    }


async def post(
    store: GraphStore,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    app = create_app(settings=Settings(store="sqlite:///unused", graphiql=False), store=store)
    sent_headers = dict(headers or {})
    if token is not None:
        sent_headers["Authorization"] = f"Bearer {token}"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cmdb.test") as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent_headers
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.anyio
async def test_upsert_cis_creates_and_updates(hospital_store: GraphStore, tokens: dict[str, str]) -> None:
    created = await post(hospital_store, UPSERT_CIS, {"input": [PUMP]}, token=tokens["editor"])
    updated = await post(
        hospital_store,
        UPSERT_CIS,
        {"input": [{**PUMP, "name": "Pump ICU 9", "version": 1}]},
        token=tokens["editor"],
    )

    assert created["data"]["upsertCIs"] == {
        "__typename": "UpsertResult",
        "added": 1,
        "updated": 0,
        "unchanged": 0,
    }
    assert updated["data"]["upsertCIs"] == {
        "__typename": "UpsertResult",
        "added": 0,
        "updated": 1,
        "unchanged": 0,
    }
    stored = hospital_store.get_ci("pump-icu-9")
    assert stored is not None
    assert stored.name == "Pump ICU 9"
    assert stored.version == 2
    assert stored.identifiers.macs == ["00:1a:2b:3c:4d:5e"]
    assert stored.tags == ["medication"]


@pytest.mark.anyio
async def test_upsert_cis_bad_class_names_value(hospital_store: GraphStore, tokens: dict[str, str]) -> None:
    rows = [PUMP, {**PUMP, "key": "pump-icu-10", "ciClass": "Toaster"}]

    body = await post(hospital_store, UPSERT_CIS, {"input": rows}, token=tokens["editor"])

    result = body["data"]["upsertCIs"]
    assert result["__typename"] == "ValidationFailed"
    assert len(result["errors"]) == 1
    error = result["errors"][0]
    assert error["field"] == "input.1.ciClass"
    assert error["value"] == "Toaster"
    assert "'Toaster'" in error["message"]
    assert "Toaster" in result["message"]
    assert hospital_store.get_ci("pump-icu-9") is None


@pytest.mark.anyio
async def test_upsert_cis_bad_criticality_names_value(
    hospital_store: GraphStore, tokens: dict[str, str]
) -> None:
    body = await post(
        hospital_store, UPSERT_CIS, {"input": [{**PUMP, "criticality": "very_high"}]}, token=tokens["editor"]
    )

    result = body["data"]["upsertCIs"]
    assert result["__typename"] == "ValidationFailed"
    assert [(e["field"], e["value"]) for e in result["errors"]] == [("input.0.criticality", "very_high")]
    assert "very_high" in result["message"]
    assert hospital_store.get_ci("pump-icu-9") is None


@pytest.mark.anyio
async def test_upsert_cis_bad_attribute_and_mac(hospital_store: GraphStore, tokens: dict[str, str]) -> None:
    row = {**PUMP, "identifiers": {"macs": ["not-a-mac"]}}

    body = await post(hospital_store, UPSERT_CIS, {"input": [row]}, token=tokens["editor"])

    result = body["data"]["upsertCIs"]
    assert result["__typename"] == "ValidationFailed"
    assert result["errors"][0]["field"] == "input.0.identifiers.macs"
    assert "not-a-mac" in result["errors"][0]["message"]


@pytest.mark.anyio
async def test_stale_version_conflicts_and_writes_nothing(
    hospital_store: GraphStore, tokens: dict[str, str]
) -> None:
    before = hospital_store.get_ci("sw-core-1")
    assert before is not None
    rows = [
        {**PUMP},
        {"key": "sw-core-1", "ciClass": "NetworkDevice", "name": "renamed", "version": before.version + 5},
    ]

    body = await post(hospital_store, UPSERT_CIS, {"input": rows}, token=tokens["editor"])

    result = body["data"]["upsertCIs"]
    assert result["__typename"] == "VersionConflict"
    assert result["key"] == "sw-core-1"
    assert result["expectedVersion"] == before.version + 5
    assert result["actualVersion"] == before.version
    after = hospital_store.get_ci("sw-core-1")
    assert after is not None
    assert after.name == before.name
    assert after.version == before.version
    assert hospital_store.get_ci("pump-icu-9") is None


@pytest.mark.anyio
async def test_lone_stale_version_is_version_conflict(
    hospital_store: GraphStore, tokens: dict[str, str]
) -> None:
    row = {"key": "sw-core-1", "ciClass": "NetworkDevice", "name": "renamed", "version": 99}

    body = await post(hospital_store, UPSERT_CIS, {"input": [row]}, token=tokens["editor"])

    result = body["data"]["upsertCIs"]
    assert result["__typename"] == "VersionConflict"
    assert result["key"] == "sw-core-1"
    assert result["expectedVersion"] == 99
    assert result["actualVersion"] == 1
    stored = hospital_store.get_ci("sw-core-1")
    assert stored is not None
    assert stored.name == "core-sw-1"


@pytest.mark.anyio
async def test_upsert_relationships_unknown_ci(hospital_store: GraphStore, tokens: dict[str, str]) -> None:
    before = hospital_store.counts()
    rows = [
        {"source": "ws-icu-1", "type": "DEPENDS_ON", "target": "app-ehr"},
        {"source": "ws-icu-1", "type": "DEPENDS_ON", "target": "no-such-app"},
    ]

    body = await post(hospital_store, UPSERT_RELATIONSHIPS, {"input": rows}, token=tokens["editor"])

    result = body["data"]["upsertRelationships"]
    assert result["__typename"] == "CINotFound"
    assert result["key"] == "no-such-app"
    assert hospital_store.counts() == before


@pytest.mark.anyio
async def test_upsert_relationships_bad_type(hospital_store: GraphStore, tokens: dict[str, str]) -> None:
    rows = [{"source": "ws-icu-1", "type": "LIKES", "target": "app-ehr"}]

    body = await post(hospital_store, UPSERT_RELATIONSHIPS, {"input": rows}, token=tokens["editor"])

    result = body["data"]["upsertRelationships"]
    assert result["__typename"] == "ValidationFailed"
    assert result["errors"][0]["field"] == "input.0.type"
    assert result["errors"][0]["value"] == "LIKES"


@pytest.mark.anyio
async def test_upsert_relationships_writes(hospital_store: GraphStore, tokens: dict[str, str]) -> None:
    rows = [
        {"source": "ws-icu-1", "type": "DEPENDS_ON", "target": "app-ehr", "properties": {"strength": "soft"}}
    ]

    body = await post(hospital_store, UPSERT_RELATIONSHIPS, {"input": rows}, token=tokens["admin"])

    assert body["data"]["upsertRelationships"]["__typename"] == "UpsertResult"
    found = hospital_store.relationships("ws-icu-1", direction=Direction.OUTGOING, types=["DEPENDS_ON"])
    assert {(r.target, r.properties.get("strength")) for r in found} >= {("app-ehr", "soft")}


@pytest.mark.anyio
async def test_retire_ci_and_its_conflicts(hospital_store: GraphStore, tokens: dict[str, str]) -> None:
    stale = await post(hospital_store, RETIRE_CI, {"key": "ws-icu-1", "version": 42}, token=tokens["editor"])
    missing = await post(hospital_store, RETIRE_CI, {"key": "no-such-ci"}, token=tokens["editor"])
    retired = await post(hospital_store, RETIRE_CI, {"key": "ws-icu-1", "version": 1}, token=tokens["editor"])

    assert stale["data"]["retireCI"] == {
        "__typename": "VersionConflict",
        "key": "ws-icu-1",
        "expectedVersion": 42,
        "actualVersion": 1,
    }
    assert missing["data"]["retireCI"]["__typename"] == "CINotFound"
    assert retired["data"]["retireCI"]["__typename"] == "CI"
    assert retired["data"]["retireCI"]["status"] == "retired"


@pytest.mark.anyio
async def test_mutation_without_token_rejected(hospital_store: GraphStore) -> None:
    body = await post(hospital_store, UPSERT_CIS, {"input": [PUMP]})

    assert body["data"] is None
    assert "authentication required" in body["errors"][0]["message"]
    assert hospital_store.get_ci("pump-icu-9") is None


@pytest.mark.anyio
async def test_mutation_with_unknown_token_rejected(hospital_store: GraphStore) -> None:
    body = await post(hospital_store, UPSERT_CIS, {"input": [PUMP]}, token="not-a-real-token")

    assert body["data"] is None
    assert "invalid or unknown API token" in body["errors"][0]["message"]
    assert hospital_store.get_ci("pump-icu-9") is None


@pytest.mark.anyio
async def test_mutation_with_viewer_role_rejected(hospital_store: GraphStore, tokens: dict[str, str]) -> None:
    body = await post(hospital_store, UPSERT_CIS, {"input": [PUMP]}, token=tokens["viewer"])

    assert body["data"] is None
    message = body["errors"][0]["message"]
    assert message.startswith("permission denied: upsertCIs needs role")
    assert "viewer" in message
    assert hospital_store.get_ci("pump-icu-9") is None


@pytest.mark.anyio
async def test_biomed_writes_devices_only(hospital_store: GraphStore, tokens: dict[str, str]) -> None:
    device = await post(hospital_store, UPSERT_CIS, {"input": [PUMP]}, token=tokens["biomed"])
    server_row = {"key": "srv-new", "ciClass": "Server", "name": "New server"}
    server = await post(hospital_store, UPSERT_CIS, {"input": [server_row]}, token=tokens["biomed"])

    assert device["data"]["upsertCIs"]["__typename"] == "UpsertResult"
    assert server["data"] is None
    assert "permission denied" in server["errors"][0]["message"]
    assert hospital_store.get_ci("srv-new") is None


@pytest.mark.anyio
async def test_actor_comes_from_token_not_headers(hospital_store: GraphStore, tokens: dict[str, str]) -> None:
    headers = {
        "X-Actor": "mallory",
        "X-User": "mallory",
        "X-Forwarded-User": "mallory",
        "X-Request-ID": "req-42",
    }

    body = await post(hospital_store, UPSERT_CIS, {"input": [PUMP]}, token=tokens["editor"], headers=headers)

    assert body["data"]["upsertCIs"]["__typename"] == "UpsertResult"
    versions = hospital_store.versions("pump-icu-9")
    assert [v.actor for v in versions] == ["editor-actor"]
    assert [v.origin for v in versions] == ["api"]
    assert [v.request_id for v in versions] == ["req-42"]
