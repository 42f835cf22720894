"""Relationship upserts of the Neo4j store, each with the impact edge derived from it.

Like the CI writes, each function is the body of one managed write transaction and may run
more than once. Relationship types cannot be query parameters, so each type's statements are
built from the type table and run once per type present in the batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from cmdb.model import RELATIONSHIP_TYPES, ChangeContext, Flow, RelationshipInput, impact_strength
from cmdb.store.base import RowError
from cmdb.store.batch import BatchOutcome
from cmdb.store.neo4j_rows import dumps, relationship_key
from cmdb.store.neo4j_write import LOCK, WRITE_VERSIONS, version_row

_LOAD_ENDS = "UNWIND $keys AS key MATCH (c:CI {key: key}) RETURN c.key AS key"


def load_relationships_query(type_name: str) -> str:
    """Return the statement reading and locking stored relationships of one type by their keys.

    The hint makes Neo4j seek each key in the type's uniqueness index, one seek per row. A
    pattern through the end nodes could instead expand every relationship of a hub CI (thousands
    in the demo health system) for each row. Without the hint, Neo4j 5.26 chose a scan of the whole
    index for types with few relationships in the reference hospital.
    The type name comes from ``RELATIONSHIP_TYPES`` only, because types cannot be parameters.
    """
    rel_type = RELATIONSHIP_TYPES[type_name]
    return (
        "UNWIND $keys AS key\n"
        f"MATCH ()-[r:{rel_type.name} {{key: key}}]->()\n"
        f"USING INDEX SEEK r:{rel_type.name}(key)\n"
        f"{LOCK.format('r')}\n"
        "RETURN r.key AS key, r.properties_json AS properties_json, r.version AS version,"
        " r.ended_at AS ended_at\n"
    )


def _load_stored(
    tx: ManagedTransaction, relationships: Sequence[RelationshipInput]
) -> dict[str, tuple[Any, ...]]:
    """Return (properties_json, version, ended_at) of each stored relationship of the batch, by key."""
    keys_by_type: dict[str, set[str]] = defaultdict(set)
    for rel in relationships:
        keys_by_type[rel.type].add(relationship_key(rel.source, rel.type, rel.target))
    stored: dict[str, tuple[Any, ...]] = {}
    for type_name, keys in sorted(keys_by_type.items()):
        for row in tx.run(load_relationships_query(type_name), keys=sorted(keys)):
            stored[row["key"]] = (row["properties_json"], row["version"], row["ended_at"])
    return stored


def _create_relationships_query(type_name: str) -> str:
    """Return the statement creating relationships of one type with their impact edges.

    The batch's time is the parameter ``$now``, sent once: the driver packs each datetime value
    in Python, which took about 30 us per value on the benchmark machine. The type name comes
    from ``RELATIONSHIP_TYPES`` only, because types cannot be parameters.
    """
    rel_type = RELATIONSHIP_TYPES[type_name]
    query = (
        "UNWIND $rows AS row\n"
        "MATCH (s:CI {key: row.source}), (t:CI {key: row.target})\n"
        f"CREATE (s)-[r:{rel_type.name}]->(t)\n"
        "SET r = row.relationship, r.created_at = $now, r.updated_at = $now\n"
    )
    if rel_type.flow is Flow.TARGET_TO_SOURCE:
        query += "CREATE (t)-[:IMPACTS {rel_key: row.key, type: row.type, strength: row.strength}]->(s)\n"
    elif rel_type.flow is not Flow.NONE:
        query += "CREATE (s)-[:IMPACTS {rel_key: row.key, type: row.type, strength: row.strength}]->(t)\n"
    return query


def _update_relationships_query(type_name: str) -> str:
    """Return the statement updating relationships of one type and the strength of their impact edges."""
    rel_type = RELATIONSHIP_TYPES[type_name]
    query = (
        "UNWIND $rows AS row\n"
        f"MATCH ()-[r:{rel_type.name} {{key: row.key}}]->()\n"
        "SET r.properties_json = row.relationship.properties_json,"
        " r.version = row.relationship.version, r.updated_at = $now,"
        " r.ended_at = null\n"
    )
    # An ended relationship has lost its impact edge, so the edge is merged back when it reopens.
    if rel_type.flow is Flow.TARGET_TO_SOURCE:
        query += (
            "WITH row, startNode(r) AS s, endNode(r) AS t\nMERGE (t)-[i:IMPACTS {rel_key: row.key}]->(s)\n"
        )
    elif rel_type.flow is not Flow.NONE:
        query += (
            "WITH row, startNode(r) AS s, endNode(r) AS t\nMERGE (s)-[i:IMPACTS {rel_key: row.key}]->(t)\n"
        )
    if rel_type.flow is not Flow.NONE:
        query += "SET i.type = row.type, i.strength = row.strength\n"
    return query


def upsert_relationships(
    tx: ManagedTransaction,
    relationships: Sequence[RelationshipInput],
    *,
    context: ChangeContext,
    now: datetime,
    strict: bool,
) -> BatchOutcome:
    """Create or update each relationship with its impact edge; reject rows naming an unknown CI."""
    ends = sorted({key for rel in relationships for key in (rel.source, rel.target)})
    known = {row["key"] for row in tx.run(_LOAD_ENDS, keys=ends)}
    stored_by_key = _load_stored(tx, relationships)

    outcome = BatchOutcome()
    result = outcome.result
    seen: set[tuple[str, str, str]] = set()
    creates: dict[str, list[dict[str, Any]]] = defaultdict(list)
    updates: dict[str, list[dict[str, Any]]] = defaultdict(list)
    versions: list[dict[str, Any]] = []
    for index, rel in enumerate(relationships):
        key = relationship_key(rel.source, rel.type, rel.target)
        if rel.identity in seen:
            message = f"duplicate relationship {key!r} in this batch; send each relationship once"
            result.rejected.append(RowError(index, key, message))
            continue
        seen.add(rel.identity)

        missing = [k for k in (rel.source, rel.target) if k not in known]
        if missing:
            names = " and ".join(repr(k) for k in missing)
            message = f"CI {names} not found; import the CI before relationships that name it"
            result.rejected.append(RowError(index, key, message))
            continue

        properties_json = dumps(rel.properties)
        stored = stored_by_key.get(key)
        if stored is not None and stored[0] == properties_json and stored[2] is None:
            result.unchanged += 1
            continue

        strength = impact_strength(rel.type, rel.properties.get("strength"))
        row: dict[str, Any] = {
            "key": key,
            "source": rel.source,
            "target": rel.target,
            "type": rel.type,
            "strength": strength.value if strength is not None else None,
        }
        if stored is None:
            version, operation = 1, "create"
            row["relationship"] = {"key": key, "properties_json": properties_json, "version": version}
            creates[rel.type].append(row)
            result.added += 1
        else:
            version, operation = stored[1] + 1, "update"
            row["relationship"] = {"properties_json": properties_json, "version": version}
            updates[rel.type].append(row)
            result.updated += 1

        versions.append(
            version_row(
                entity="relationship",
                key=key,
                ci_key=rel.source,
                version=version,
                operation=operation,
                snapshot={**rel.model_dump(mode="json"), "version": version},
                context=context,
                now=now,
                seq=index,
            )
        )

    outcome.raise_if_strict(strict)
    for type_name, rows in sorted(creates.items()):
        tx.run(_create_relationships_query(type_name), rows=rows, now=now).consume()
    for type_name, rows in sorted(updates.items()):
        tx.run(_update_relationships_query(type_name), rows=rows, now=now).consume()
    if versions:
        tx.run(WRITE_VERSIONS, rows=versions).consume()
    return outcome
