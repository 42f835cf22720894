"""The Neo4j store against a real Neo4j 5.26 server.

The server is the one at ``NEO4J_URI`` (with ``NEO4J_USER``, ``NEO4J_PASSWORD`` and
``NEO4J_DATABASE`` when it needs them), else a ``neo4j:5.26-community`` container when the
testcontainers package is installed and a Docker engine responds. Without either the tests are
skipped, or fail when ``CI=true``. ``scripts/neo4j/start`` starts a server without Docker.
Every test empties the database first, so point ``NEO4J_URI`` at a database used for tests only.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from neo4j import GraphDatabase
from pydantic import SecretStr

from cmdb.impact import analyze
from cmdb.model import RELATIONSHIP_TYPES, ChangeContext, CIInput, Flow, Origin, RelationshipInput
from cmdb.store.base import GraphStore, RejectedRowsError, VersionConflictError
from cmdb.store.neo4j import Neo4jStore
from cmdb.store.neo4j_graph import CLOSURE_PARAMETERS, CLOSURE_QUERY
from cmdb.store.neo4j_relationships import load_relationships_query
from cmdb.store.neo4j_rows import relationship_key
from tests.reference import (
    expected_answers,
    impact_flow_pairs,
    load_hospital,
    path_problems,
    request_for,
    scenarios,
    without_paths,
)

pytestmark = pytest.mark.integration

EXPECTED = expected_answers()
PRUNING_OPERATORS = ("VarLengthExpand(Pruning", "BFSPruningVarExpand")


@dataclass(frozen=True)
class Server:
    uri: str
    user: str
    password: str
    database: str


def _docker_answers() -> bool:
    if importlib.util.find_spec("testcontainers") is None or importlib.util.find_spec("docker") is None:
        return False
    import docker

    try:
        docker.from_env().ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """The Neo4j server the tests run against, from NEO4J_URI or a container."""
    uri = os.environ.get("NEO4J_URI")
    if uri:
        yield Server(
            uri=uri,
            user=os.environ.get("NEO4J_USER", "neo4j"),
            password=os.environ.get("NEO4J_PASSWORD", ""),
            database=os.environ.get("NEO4J_DATABASE", "neo4j"),
        )
        return
    if _docker_answers():
        # NOTE: this branch has not run on the CI machines, which have no Docker engine.
        from testcontainers.neo4j import Neo4jContainer

        with Neo4jContainer("neo4j:5.26-community") as container:
            yield Server(container.get_connection_url(), container.username, container.password, "neo4j")
        return
    reason = "no Neo4j server: set NEO4J_URI (scripts/neo4j/start prints one) or run a Docker engine"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _clear(server: Server) -> None:
    auth = (server.user, server.password) if server.password else None
    with GraphDatabase.driver(server.uri, auth=auth) as driver, driver.session(database=server.database) as s:
        s.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()


@pytest.fixture
def store(server: Server) -> Iterator[Neo4jStore]:
    """A Neo4j store on an emptied database."""
    _clear(server)
    opened = Neo4jStore(
        server.uri, user=server.user, password=SecretStr(server.password), database=server.database
    )
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def context() -> ChangeContext:
    return ChangeContext(actor="alice", origin=Origin.API, request_id="req-1")


@pytest.fixture
def hospital(store: Neo4jStore) -> Neo4jStore:
    cis, relationships = load_hospital()
    load = ChangeContext(actor="loader", origin=Origin.IMPORT, request_id="load-hospital")
    store.upsert_cis(cis, context=load, strict=True)
    store.upsert_relationships(relationships, context=load, strict=True)
    return store


def _scalar(store: Neo4jStore, query: str) -> Any:
    with store._driver.session(database=store.database) as session:
        return session.run(query).single(strict=True)[0]


def _graph_size(store: Neo4jStore) -> tuple[int, int]:
    return _scalar(store, "MATCH (n) RETURN count(n)"), _scalar(store, "MATCH ()-[r]->() RETURN count(r)")


def _operators(plan: dict[str, Any]) -> list[str]:
    found = [str(plan["operatorType"])]
    for child in plan.get("children", []):
        found.extend(_operators(child))
    return found


def test_closure_plan_prunes(hospital: Neo4jStore) -> None:
    with hospital._driver.session(database=hospital.database) as session:
        summary = session.run(
            "EXPLAIN " + CLOSURE_QUERY, {"roots": ["sw-core-1"], **CLOSURE_PARAMETERS}
        ).consume()

    assert summary.plan is not None
    operators = _operators(summary.plan)
    expands = [op for op in operators if "VarLength" in op or "VarExpand" in op]
    assert expands
    assert all(op.startswith(PRUNING_OPERATORS) for op in expands), operators


def _db_hits(profile: dict[str, Any]) -> int:
    return int(profile["dbHits"]) + sum(_db_hits(child) for child in profile.get("children", []))


@pytest.mark.parametrize("type_name", sorted(RELATIONSHIP_TYPES))
def test_relationship_read_plan_seeks_key(hospital: Neo4jStore, type_name: str) -> None:
    key = relationship_key("a", type_name, "b")
    with hospital._driver.session(database=hospital.database) as session:
        summary = session.run("EXPLAIN " + load_relationships_query(type_name), keys=[key]).consume()

    assert summary.plan is not None
    operators = _operators(summary.plan)
    assert any("RelationshipUniqueIndexSeek" in op for op in operators), operators
    assert not any("Expand" in op for op in operators), operators


def test_relationship_read_ignores_hub_degree(store: Neo4jStore, context: ChangeContext) -> None:
    """Reading five relationships into a CI with 2,000 incoming ones takes a few DB hits per key."""
    members = [CIInput(key=f"ws-{n:04d}", ci_class="Workstation", name=f"ws {n}") for n in range(2000)]
    store.upsert_cis([*members, CIInput(key="svc-hub", ci_class="Service", name="hub")], context=context)
    links = [RelationshipInput(source=ci.key, type="SUPPORTS", target="svc-hub") for ci in members]
    assert store.upsert_relationships(links, context=context, strict=True).added == 2000
    keys = [relationship_key(f"ws-{n:04d}", "SUPPORTS", "svc-hub") for n in range(5)]

    with store._driver.session(database=store.database) as session:
        profiled = session.run("PROFILE " + load_relationships_query("SUPPORTS"), keys=keys)
        found = [row["key"] for row in profiled]
        summary = profiled.consume()

    assert sorted(found) == keys
    assert summary.profile is not None
    # A seek costs a few hits per key; expanding the hub's relationships would cost over 2,000.
    assert _db_hits(summary.profile) < 200, summary.profile


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: str(s["name"]))
def test_scenario_matches_expected(hospital: GraphStore, scenario: dict[str, Any]) -> None:
    answer = analyze(store=hospital, request=request_for(scenario)).to_expected_shape()

    assert without_paths(answer) == without_paths(EXPECTED[scenario["name"]])


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: str(s["name"]))
def test_scenario_paths_are_shortest_chains(hospital: GraphStore, scenario: dict[str, Any]) -> None:
    _, relationships = load_hospital()
    answer = analyze(store=hospital, request=request_for(scenario)).to_expected_shape()

    assert path_problems(answer, set(scenario["roots"]), impact_flow_pairs(relationships)) == []


def test_impact_edge_beside_each_relationship(hospital: Neo4jStore) -> None:
    _, relationships = load_hospital()
    carrying = [r for r in relationships if RELATIONSHIP_TYPES[r.type].flow is not Flow.NONE]

    impacts = _scalar(hospital, "MATCH ()-[i:IMPACTS]->() RETURN count(i)")

    assert impacts == len(carrying)
    assert hospital.counts()["relationships"] == len(relationships)


def test_upsert_twice_is_idempotent(hospital: Neo4jStore, context: ChangeContext) -> None:
    cis, relationships = load_hospital()
    counts_before = hospital.counts()
    size_before = _graph_size(hospital)

    ci_result = hospital.upsert_cis(cis, context=context)
    rel_result = hospital.upsert_relationships(relationships, context=context)

    assert (ci_result.added, ci_result.updated, ci_result.unchanged) == (0, 0, len(cis))
    assert (rel_result.added, rel_result.updated, rel_result.unchanged) == (0, 0, len(relationships))
    assert hospital.counts() == counts_before
    assert _graph_size(hospital) == size_before


def test_version_conflict_rejected(store: Neo4jStore, context: ChangeContext) -> None:
    store.upsert_cis([CIInput(key="srv-1", ci_class="Server", name="first")], context=context)
    store.upsert_cis([CIInput(key="srv-1", ci_class="Server", name="second")], context=context)
    stale = CIInput(key="srv-1", ci_class="Server", name="third", version=1)

    result = store.upsert_cis([stale], context=context)
    with pytest.raises(VersionConflictError) as raised:
        store.upsert_cis([stale], context=context, strict=True)

    assert [(r.index, r.key) for r in result.rejected] == [(0, "srv-1")]
    assert (raised.value.key, raised.value.expected, raised.value.actual) == ("srv-1", 1, 2)
    stored = store.get_ci("srv-1")
    assert stored is not None
    assert (stored.name, stored.version) == ("second", 2)
    assert [v.version for v in store.versions("srv-1")] == [1, 2]


def test_strict_ci_batch_writes_nothing(store: Neo4jStore, context: ChangeContext) -> None:
    store.upsert_cis([CIInput(key="srv-1", ci_class="Server", name="srv-1")], context=context)
    size_before = _graph_size(store)
    batch = [
        CIInput(key="srv-1", ci_class="Server", name="changed"),
        CIInput(key="srv-2", ci_class="Server", name="srv-2"),
        CIInput(key="srv-3", ci_class="Server", name="srv-3", version=4),
    ]

    with pytest.raises(RejectedRowsError) as raised:
        store.upsert_cis(batch, context=context, strict=True)

    assert [(r.index, r.key) for r in raised.value.rejected] == [(2, "srv-3")]
    assert _graph_size(store) == size_before
    stored = store.get_ci("srv-1")
    assert stored is not None
    assert (stored.name, stored.version) == ("srv-1", 1)


def test_strict_relationship_batch_writes_nothing(store: Neo4jStore, context: ChangeContext) -> None:
    servers = [CIInput(key=key, ci_class="Server", name=key) for key in ("vm-1", "esx-1")]
    store.upsert_cis(servers, context=context)
    size_before = _graph_size(store)
    batch = [
        RelationshipInput(source="vm-1", type="HOSTED_ON", target="esx-1"),
        RelationshipInput(source="vm-1", type="DEPENDS_ON", target="ghost"),
    ]

    with pytest.raises(RejectedRowsError):
        store.upsert_relationships(batch, context=context, strict=True)

    assert _graph_size(store) == size_before
    assert _scalar(store, "MATCH ()-[i:IMPACTS]->() RETURN count(i)") == 0
