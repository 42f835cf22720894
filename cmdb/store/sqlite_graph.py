"""Graph reads of the SQLite store: relationships, neighbours, the impact closure and its context.

Each function runs inside a read transaction that the caller has begun, so its queries see
one snapshot. Sets of CIs are passed to SQL through the connection's scratch tables
(``temp.scratch_key``, ``temp.scratch_id``), which keeps large closures set-based.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence

from cmdb.model import RELATIONSHIP_TYPES, Direction, RelationshipRecord, Strength
from cmdb.store.base import (
    MAX_NEIGHBOUR_DEPTH,
    CINotFoundError,
    ImpactClosure,
    ImpactContext,
    ImpactEdge,
    ImpactNode,
    Neighbour,
)
from cmdb.store.sqlite_rows import (
    CI_COLUMNS,
    INACTIVE,
    NODE_COLUMNS,
    QUORUM_TYPES,
    RELATIONSHIP_COLUMNS,
    ci_record,
    fill_keys,
    impact_node,
    placeholders,
    relationship_record,
)

_STRENGTHS: dict[str | None, Strength] = {s.value: s for s in Strength}


def check_types(types: Sequence[str]) -> list[str]:
    """Return ``types`` sorted and de-duplicated; raise ValueError naming an unknown type."""
    for name in types:
        if name not in RELATIONSHIP_TYPES:
            known = ", ".join(sorted(RELATIONSHIP_TYPES))
            raise ValueError(f"unknown relationship type {name!r}; use one of: {known}")
    return sorted(set(types))


def ci_id(conn: sqlite3.Connection, key: str) -> int:
    row = conn.execute("SELECT id FROM ci WHERE key = ?", (key,)).fetchone()
    if row is None:
        raise CINotFoundError(key)
    return int(row[0])


def relationships(
    conn: sqlite3.Connection, key: str, *, direction: Direction, types: Sequence[str]
) -> list[RelationshipRecord]:
    """Return the live relationships of a CI in ``direction``, by source, type and target."""
    type_list = check_types(types)
    start = ci_id(conn, key)
    ends = {
        Direction.OUTGOING: "r.source_id = ?",
        Direction.INCOMING: "r.target_id = ?",
        Direction.BOTH: "(r.source_id = ? OR r.target_id = ?)",
    }[direction]
    params: list[object] = [start] * (2 if direction is Direction.BOTH else 1)
    type_clause = ""
    if type_list:
        type_clause = f" AND r.type IN ({placeholders(len(type_list))})"
        params.extend(type_list)
    rows = conn.execute(
        f"SELECT {RELATIONSHIP_COLUMNS} FROM relationship r"
        " JOIN ci s ON s.id = r.source_id JOIN ci t ON t.id = r.target_id"
        f" WHERE {ends} AND r.ended_at IS NULL{type_clause}"
        " ORDER BY s.key, r.type, t.key",
        params,
    ).fetchall()
    return [relationship_record(row) for row in rows]


def neighbours(
    conn: sqlite3.Connection,
    key: str,
    *,
    depth: int,
    direction: Direction,
    types: Sequence[str],
) -> list[Neighbour]:
    """Return the CIs within ``depth`` steps of ``key`` along live relationships, nearest first."""
    if not 1 <= depth <= MAX_NEIGHBOUR_DEPTH:
        raise ValueError(f"invalid depth {depth}; use 1 to {MAX_NEIGHBOUR_DEPTH}")
    type_list = check_types(types)
    start = ci_id(conn, key)

    type_clause = f" AND r.type IN ({placeholders(len(type_list))})" if type_list else ""
    steps: list[str] = []
    params: list[object] = [start]
    # The depth column lets a CI appear once per depth, so the work is bounded by
    # depth x (CIs + relationships reached), and the outer query keeps each CI's smallest depth.
    # NOTE: at depth 10 on a graph of 100k CIs where nearly everything is connected this takes
    # many seconds, so callers should bound the depth or the cost of such requests.
    if direction in (Direction.OUTGOING, Direction.BOTH):
        steps.append(
            "SELECT r.target_id, reach.depth + 1 FROM reach JOIN relationship r"
            f" ON r.source_id = reach.id WHERE reach.depth < ? AND r.ended_at IS NULL{type_clause}"
        )
        params.extend([depth, *type_list])
    if direction in (Direction.INCOMING, Direction.BOTH):
        steps.append(
            "SELECT r.source_id, reach.depth + 1 FROM reach JOIN relationship r"
            f" ON r.target_id = reach.id WHERE reach.depth < ? AND r.ended_at IS NULL{type_clause}"
        )
        params.extend([depth, *type_list])
    params.append(start)
    rows = conn.execute(
        "WITH RECURSIVE reach(id, depth) AS (SELECT ?, 0"
        + "".join(f" UNION {step}" for step in steps)
        + f") SELECT {CI_COLUMNS}, MIN(reach.depth) AS distance FROM reach"
        " JOIN ci ON ci.id = reach.id WHERE reach.id != ?"
        " GROUP BY reach.id ORDER BY distance, ci.key",
        params,
    ).fetchall()
    return [Neighbour(ci=ci_record(row[:-1]), distance=row[-1]) for row in rows]


def impact_closure(conn: sqlite3.Connection, roots: Iterable[str]) -> ImpactClosure:
    """Return the CIs impact reaches from ``roots``, every member of each reached group, and their edges.

    Retired and planned CIs are neither entered nor returned.
    """
    fill_keys(conn, roots)
    conn.execute("DELETE FROM temp.scratch_id")
    inactive = placeholders(len(INACTIVE))
    # UNION over the id column alone visits each CI once, because a depth or path column would
    # make SQLite enumerate every path. The scratch tables have no statistics, so each join below
    # puts them first with CROSS JOIN, whose left table SQLite keeps as the outer loop. Otherwise
    # the planner may pick a full scan of ci or impact_edge as the outer loop.
    conn.execute(
        "INSERT INTO temp.scratch_id (id)"
        " WITH RECURSIVE reached(id) AS ("
        "  SELECT ci.id FROM temp.scratch_key k CROSS JOIN ci ON ci.key = k.key"
        f"  WHERE ci.status NOT IN ({inactive})"
        "  UNION"
        "  SELECT e.to_id FROM reached CROSS JOIN impact_edge e ON e.from_id = reached.id"
        f"  CROSS JOIN ci ON ci.id = e.to_id WHERE ci.status NOT IN ({inactive})"
        " ) SELECT id FROM reached",
        [*INACTIVE, *INACTIVE],
    )
    # A group's quorum needs all its members, including those impact did not reach.
    conn.execute(
        "INSERT OR IGNORE INTO temp.scratch_id (id)"
        " SELECT e.from_id FROM temp.scratch_id g CROSS JOIN impact_edge e ON e.to_id = g.id"
        " CROSS JOIN ci ON ci.id = e.from_id"
        f" WHERE e.type IN ({placeholders(len(QUORUM_TYPES))}) AND ci.status NOT IN ({inactive})",
        [*QUORUM_TYPES, *INACTIVE],
    )

    keys: dict[int, str] = {}
    nodes: dict[str, ImpactNode] = {}
    for row in conn.execute(
        f"SELECT ci.id, {NODE_COLUMNS} FROM temp.scratch_id s CROSS JOIN ci ON ci.id = s.id"
    ):
        node = impact_node(row[1:])
        keys[row[0]] = node.key
        nodes[node.key] = node

    strengths = _STRENGTHS
    edges = [
        ImpactEdge(source=keys[from_id], target=keys[to_id], type=rel_type, strength=strengths.get(strength))
        for from_id, to_id, rel_type, strength in conn.execute(
            "SELECT e.from_id, e.to_id, e.type, e.strength FROM temp.scratch_id a"
            " CROSS JOIN impact_edge e ON e.from_id = a.id CROSS JOIN temp.scratch_id b ON b.id = e.to_id"
        )
    ]
    return ImpactClosure(nodes=nodes, edges=edges)


def impact_context(conn: sqlite3.Connection, keys: Iterable[str]) -> ImpactContext:
    """Return the locations of ``keys`` up their LOCATED_IN chains, their teams and owners.

    Also return every Team with a non-empty ``notify_for_tags``, and a node for each CI those
    links point to.
    """
    fill_keys(conn, keys)

    # As in impact_closure, the scratch table and the recursive table lead each CROSS JOIN.
    located_in: dict[str, list[str]] = defaultdict(list)
    for source, target in conn.execute(
        "WITH RECURSIVE held(id) AS ("
        "  SELECT ci.id FROM temp.scratch_key k CROSS JOIN ci ON ci.key = k.key"
        "  UNION"
        "  SELECT r.target_id FROM held CROSS JOIN relationship r"
        "  ON r.source_id = held.id AND r.type = 'LOCATED_IN' WHERE r.ended_at IS NULL"
        " ) SELECT s.key, t.key FROM held"
        " CROSS JOIN relationship r ON r.source_id = held.id AND r.type = 'LOCATED_IN'"
        " CROSS JOIN ci s ON s.id = r.source_id CROSS JOIN ci t ON t.id = r.target_id"
        " WHERE r.ended_at IS NULL ORDER BY s.key, t.key"
    ):
        located_in[source].append(target)

    managed_by: dict[str, list[str]] = defaultdict(list)
    owned_by: dict[str, list[str]] = defaultdict(list)
    for source, rel_type, target in conn.execute(
        "SELECT s.key, r.type, t.key FROM temp.scratch_key k CROSS JOIN ci s ON s.key = k.key"
        " CROSS JOIN relationship r ON r.source_id = s.id AND r.type IN ('MANAGED_BY', 'OWNED_BY')"
        " CROSS JOIN ci t ON t.id = r.target_id WHERE r.ended_at IS NULL ORDER BY s.key, r.type, t.key"
    ):
        (managed_by if rel_type == "MANAGED_BY" else owned_by)[source].append(target)

    notify_teams = [
        impact_node(row)
        for row in conn.execute(
            f"SELECT {NODE_COLUMNS} FROM ci WHERE ci.ci_class = 'Team'"
            " AND json_array_length(ci.attributes, '$.notify_for_tags') > 0 ORDER BY ci.key"
        )
    ]

    # Nodes only for the CIs the maps point to: the caller already holds the requested ones.
    named: set[str] = set()
    for mapping in (located_in, managed_by, owned_by):
        named |= {target for targets in mapping.values() for target in targets}
    fill_keys(conn, named)
    nodes = {
        node.key: node
        for node in (
            impact_node(row)
            for row in conn.execute(
                f"SELECT {NODE_COLUMNS} FROM temp.scratch_key k CROSS JOIN ci ON ci.key = k.key"
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
