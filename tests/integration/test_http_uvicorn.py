"""The app served by a real uvicorn server on 127.0.0.1, queried over TCP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cmdb.app import create_app
from cmdb.auth import create_token
from cmdb.model import ChangeContext, Origin
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.store.base import GraphStore
from tests.integration.uvicorn_helpers import serve
from tests.reference import load_hospital


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, GraphStore, str]]:
    """Serve the app over a loaded SQLite store; yield its base URL, the store and an editor token."""
    store = open_store(f"sqlite:///{tmp_path / 'cmdb.sqlite3'}")
    cis, relationships = load_hospital()
    context = ChangeContext(actor="test-loader", origin=Origin.IMPORT)
    store.upsert_cis(cis, context=context, strict=True)
    store.upsert_relationships(relationships, context=context, strict=True)
    token = create_token(store=store, name="editor", actor="uvicorn-editor", roles=["editor"])
    app = create_app(settings=Settings(store="sqlite:///unused", graphiql=False), store=store)
    try:
        with serve(app) as base_url:
            yield base_url, store, token
    finally:
        store.close()


def test_uvicorn_serves_impact_and_writes(served: tuple[str, GraphStore, str]) -> None:
    base_url, store, token = served
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "uvicorn-1", "X-Actor": "mallory"}
    impact = (
        '{ impact(input: {roots: [{ci: "sw-acc-icu"}], urgency: 1}) { ... on ImpactReport { priority } } }'
    )
    write = """
    mutation { upsertCIs(input: [{key: "pump-9", ciClass: "MedicalDevice", name: "Pump 9"}]) {
      __typename ... on UpsertResult { added }
    } }
    """

    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        ready = client.get("/readyz")
        impact_response = client.post("/graphql", json={"query": impact}, headers=headers)
        write_response = client.post("/graphql", json={"query": write}, headers=headers)
        metrics = client.get("/metrics")

    assert ready.status_code == 200
    assert impact_response.headers["x-request-id"] == "uvicorn-1"
    assert impact_response.json() == {"data": {"impact": {"priority": "P1"}}}
    assert write_response.json() == {"data": {"upsertCIs": {"__typename": "UpsertResult", "added": 1}}}
    assert [(v.actor, v.request_id) for v in store.versions("pump-9")] == [("uvicorn-editor", "uvicorn-1")]
    assert (
        'cmdb_graphql_operations_total{field="upsertCIs",operation="mutation",outcome="ok"} 1.0'
        in metrics.text
    )
