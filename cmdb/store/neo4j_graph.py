"""Graph reads of the Neo4j store: relationships, neighbours, the impact closure and its context.

Each function is the body of one managed read transaction (``session.execute_read``), so its
queries see one consistent state and a cluster may route them to a secondary.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence

from neo4j import ManagedTransaction

from cmdb.model import Criticality, Direction, RelationshipRecord, Status, Strength
from cmdb.store.base import (
    MAX_NEIGHBOUR_DEPTH,
    CINotFoundError,
    ImpactClosure,
    ImpactContext,
    ImpactEdge,
    ImpactNode,
    Neighbour,
)
from cmdb.store.neo4j_rows import (
    INACTIVE,
    NODE_PROJECTION,
    QUORUM_TYPES,
    ci_record,
    impact_node,
    relationship_record,
    type_alternation,
)

# One query. The expand over IMPACTS keeps only distinct end nodes, so Neo4j plans it as a
# breadth-first VarLengthExpand(Pruning,BFS) that visits each CI once, and the integration
# tests check that plan. Retired and planned CIs are neither entered nor returned. Every member
# of each reached group is added, because a quorum needs them all. The impact edges leaving the
# closure's nodes are collected, and edges to CIs outside it are dropped in Python. Nodes and
# edges come back as parallel lists of plain values, one list per field, which the driver and
# Python decode faster than a map per node or edge. collect() skips nulls, so a missing strength
# (MEMBER_OF) is sent as ''.
CLOSURE_QUERY = """
MATCH (root:CI)
WHERE root.key IN $roots AND NOT root.status IN $inactive
MATCH path = (root)-[:IMPACTS*0..]->(reached:CI)
WHERE all(x IN nodes(path) WHERE NOT x.status IN $inactive)
WITH DISTINCT reached
WITH collect(reached) AS reached_nodes
CALL (reached_nodes) {
  UNWIND reached_nodes AS grp
  MATCH (member:CI)-[quorum:IMPACTS]->(grp)
  WHERE quorum.type IN $quorum_types AND NOT member.status IN $inactive
  RETURN collect(DISTINCT member) AS members
}
WITH reached_nodes + members AS closure_nodes
CALL (closure_nodes) {
  UNWIND closure_nodes AS a
  WITH DISTINCT a
  MATCH (a)-[e:IMPACTS]->(b:CI)
  WHERE NOT b.status IN $inactive
  RETURN collect(a.key) AS edge_sources, collect(b.key) AS edge_targets, collect(e.type) AS edge_types,
         collect(coalesce(e.strength, '')) AS edge_strengths
}
RETURN [c IN closure_nodes | c.key] AS keys,
       [c IN closure_nodes | c.ci_class] AS classes,
       [c IN closure_nodes | c.name] AS names,
       [c IN closure_nodes | c.status] AS statuses,
       [c IN closure_nodes | c.criticality] AS criticalities,
       [c IN closure_nodes | c.tags] AS tags,
       [c IN closure_nodes | c.attributes_json] AS attributes,
       edge_sources, edge_targets, edge_types, edge_strengths
"""

CLOSURE_PARAMETERS = {"inactive": INACTIVE, "quorum_types": QUORUM_TYPES}

# Enum members by value: a dict lookup costs less than an Enum call, for every node and edge.
_STATUSES = {status.value: status for status in Status}
_CRITICALITIES = {criticality.value: criticality for criticality in Criticality}
_STRENGTHS: dict[str, Strength | None] = {strength.value: strength for strength in Strength}
_STRENGTHS[""] = None

_PATTERNS = {
    Direction.OUTGOING: "(c:CI {{key: $key}})-[r:{types}]->(o:CI)",
    Direction.INCOMING: "(c:CI {{key: $key}})<-[r:{types}]-(o:CI)",
    Direction.BOTH: "(c:CI {{key: $key}})-[r:{types}]-(o:CI)",
}


def _require_ci(tx: ManagedTransaction, key: str) -> None:
    if tx.run("MATCH (c:CI {key: $key}) RETURN c.key AS key", key=key).single() is None:
        raise CINotFoundError(key)


def relationships(
    tx: ManagedTransaction, key: str, *, direction: Direction, types: Sequence[str]
) -> list[RelationshipRecord]:
    """Return the relationships of a CI in ``direction``, by source, type and target."""
    pattern = _PATTERNS[direction].format(types=type_alternation(list(types)))
    _require_ci(tx, key)
    rows = tx.run(
        f"MATCH {pattern} WHERE r.ended_at IS NULL"
        " RETURN startNode(r).key AS source, type(r) AS type, endNode(r).key AS target,"
        " r.properties_json AS properties_json, r.version AS version,"
        " r.created_at AS created_at, r.updated_at AS updated_at"
        " ORDER BY source, type, target",
        key=key,
    )
    return [relationship_record(row) for row in rows]


def neighbours(
    tx: ManagedTransaction,
    key: str,
    *,
    depth: int,
    direction: Direction,
    types: Sequence[str],
) -> list[Neighbour]:
    """Return the CIs within ``depth`` steps of ``key``, nearest first, then by key."""
    if not isinstance(depth, int) or not 1 <= depth <= MAX_NEIGHBOUR_DEPTH:
        raise ValueError(f"invalid depth {depth}; use 1 to {MAX_NEIGHBOUR_DEPTH}")
    alternation = type_alternation(list(types))
    _require_ci(tx, key)
    # Bounds cannot be parameters; ``depth`` is a checked int. Grouping by node with
    # min(length(path)) lets Neo4j run a breadth-first expand instead of listing paths.
    arrow = {
        Direction.OUTGOING: f"-[:{alternation}*1..{depth}]->",
        Direction.INCOMING: f"<-[:{alternation}*1..{depth}]-",
        Direction.BOTH: f"-[:{alternation}*1..{depth}]-",
    }[direction]
    rows = tx.run(
        f"MATCH (s:CI {{key: $key}}) MATCH path = (s){arrow}(n:CI)"
        " WHERE n <> s AND none(r IN relationships(path) WHERE r.ended_at IS NOT NULL)"
        " WITH n, min(length(path)) AS distance"
        " RETURN n AS ci, distance ORDER BY distance, n.key",
        key=key,
    )
    return [Neighbour(ci=ci_record(dict(row["ci"])), distance=row["distance"]) for row in rows]


def impact_closure(tx: ManagedTransaction, roots: Sequence[str]) -> ImpactClosure:
    """Return the CIs impact reaches from ``roots``, every member of each reached group, and their edges.

    Retired and planned CIs are neither entered nor returned.
    """
    row = tx.run(CLOSURE_QUERY, {"roots": list(roots), **CLOSURE_PARAMETERS}).single()
    if row is None:
        return ImpactClosure(nodes={}, edges=[])
    nodes = {
        key: ImpactNode(
            key=key,
            ci_class=ci_class,
            name=name,
            status=_STATUSES[status],
            criticality=_CRITICALITIES[criticality],
            tags=tuple(tags),
            attributes=json.loads(attributes),
        )
        for key, ci_class, name, status, criticality, tags, attributes in zip(
            row["keys"],
            row["classes"],
            row["names"],
            row["statuses"],
            row["criticalities"],
            row["tags"],
            row["attributes"],
            strict=True,
        )
    }
    edges = [
        # Positional arguments: this runs for every edge, and keywords cost more per call.
        ImpactEdge(source, target, edge_type, _STRENGTHS[strength])
        for source, target, edge_type, strength in zip(
            row["edge_sources"], row["edge_targets"], row["edge_types"], row["edge_strengths"], strict=True
        )
        if target in nodes
    ]
    return ImpactClosure(nodes=nodes, edges=edges)


def impact_context(tx: ManagedTransaction, keys: Sequence[str]) -> ImpactContext:
    """Return the locations of ``keys`` up their LOCATED_IN chains, their teams and owners.

    Also return every Team with a non-empty ``notify_for_tags``, and a node for each CI those
    links point to.
    """
    located_in: dict[str, list[str]] = defaultdict(list)
    for row in tx.run(
        "UNWIND $keys AS key MATCH (c:CI {key: key})-[:LOCATED_IN*0..]->(held:CI)"
        " WITH DISTINCT held MATCH (held)-[:LOCATED_IN]->(location:CI)"
        " RETURN held.key AS source, location.key AS target ORDER BY source, target",
        keys=list(keys),
    ):
        located_in[row["source"]].append(row["target"])

    managed_by: dict[str, list[str]] = defaultdict(list)
    owned_by: dict[str, list[str]] = defaultdict(list)
    for row in tx.run(
        "UNWIND $keys AS key MATCH (c:CI {key: key})-[r:MANAGED_BY|OWNED_BY]->(t:CI)"
        " RETURN c.key AS source, type(r) AS type, t.key AS target ORDER BY source, type, target",
        keys=list(keys),
    ):
        (managed_by if row["type"] == "MANAGED_BY" else owned_by)[row["source"]].append(row["target"])

    notify_teams: list[ImpactNode] = []
    for row in tx.run(f"MATCH (c:CI {{ci_class: 'Team'}}) RETURN {NODE_PROJECTION} AS node ORDER BY c.key"):
        team = impact_node(row["node"])
        tags = team.attributes.get("notify_for_tags")
        if isinstance(tags, list) and tags:
            notify_teams.append(team)

    # Nodes only for the CIs the maps point to: the caller already holds the requested ones.
    named: set[str] = set()
    for mapping in (located_in, managed_by, owned_by):
        named |= {target for targets in mapping.values() for target in targets}
    nodes = {
        node.key: node
        for node in (
            impact_node(row["node"])
            for row in tx.run(
                f"UNWIND $keys AS key MATCH (c:CI {{key: key}}) RETURN {NODE_PROJECTION} AS node",
                keys=sorted(named),
            )
        )
    }
    nodes.update((team.key, team) for team in notify_teams)
    return ImpactContext(
        located_in=dict(located_in),
        managed_by=dict(managed_by),
        owned_by=dict(owned_by),
        notify_teams=notify_teams,
        nodes=nodes,
    )
