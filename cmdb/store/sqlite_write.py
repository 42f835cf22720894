"""Writes of the SQLite store: CI and relationship upserts, retirement, and their history rows.

Every function here runs inside a transaction that the caller has begun, and checks each row
before writing it, so a rejected row leaves nothing behind.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cmdb.model import (
    RELATIONSHIP_TYPES,
    ChangeContext,
    CIInput,
    CIRecord,
    Flow,
    RelationshipInput,
    Status,
    impact_strength,
)
from cmdb.store.base import (
    CINotFoundError,
    RowError,
    VersionConflictError,
)
from cmdb.store.batch import BatchOutcome
from cmdb.store.sqlite_rows import (
    CI_COLUMNS,
    ci_record,
    ci_snapshot,
    dumps,
    fill_keys,
    relationship_key,
    relationship_snapshot,
)


@dataclass(frozen=True, slots=True)
class _StoredCI:
    id: int
    version: int
    content: tuple[str, ...]
    attributes: dict[str, Any]
    sources: dict[str, str]


def _content(ci: CIInput) -> tuple[str, ...]:
    """Return what decides whether a CI changed, in the order of the ``_load_cis`` columns."""
    return (
        ci.ci_class,
        ci.name,
        ci.status.value,
        ci.criticality.value,
        dumps(ci.identifiers.model_dump(mode="json")),
        dumps(ci.attributes),
        dumps(ci.tags),
    )


def _load_cis(conn: sqlite3.Connection, keys: Sequence[str]) -> dict[str, _StoredCI]:
    """Return the stored CIs among ``keys``, by key, read in one query through ``temp.scratch_key``."""
    fill_keys(conn, keys)
    stored: dict[str, _StoredCI] = {}
    for row in conn.execute(
        "SELECT ci.key, ci.id, ci.version, ci.ci_class, ci.name, ci.status, ci.criticality,"
        " ci.identifiers, ci.attributes, ci.tags, ci.sources"
        " FROM temp.scratch_key k CROSS JOIN ci ON ci.key = k.key"
    ):
        stored[row[0]] = _StoredCI(
            id=row[1],
            version=row[2],
            content=tuple(row[3:10]),
            attributes=json.loads(row[8]),
            sources=json.loads(row[10]),
        )
    return stored


def _snapshot(ci: CIInput, version: int, sources: dict[str, str]) -> dict[str, Any]:
    snapshot = ci.model_dump(mode="json", exclude={"version"})
    snapshot["version"] = version
    snapshot["sources"] = sources
    return snapshot


def _sources(ci: CIInput, stored: _StoredCI | None, origin: str) -> dict[str, str]:
    """Keep the source of each attribute whose value is unchanged; the rest take ``origin``."""
    sources: dict[str, str] = {}
    for name, value in ci.attributes.items():
        if stored is not None and name in stored.sources and stored.attributes.get(name) == value:
            sources[name] = stored.sources[name]
        else:
            sources[name] = origin
    return sources


def _next_id(conn: sqlite3.Connection, table: str) -> int:
    """Return the id after the largest in ``table``, as SQLite would assign it to the next row."""
    (largest,) = conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
    return int(largest) + 1


_CLOSE_VERSION = "UPDATE version SET valid_to = ? WHERE entity = ? AND entity_key = ? AND valid_to IS NULL"
_INSERT_VERSION = (
    "INSERT INTO version (entity, entity_key, ci_id, version, operation, snapshot, actor,"
    " origin, request_id, change_id, valid_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(slots=True)
class _VersionRows:
    """Version rows of one batch, written with two ``executemany`` calls in batch order."""

    context: ChangeContext
    now: str
    closed: list[tuple[str, str, str]] = field(default_factory=list)
    added: list[tuple[Any, ...]] = field(default_factory=list)

    def add(
        self,
        *,
        entity: str,
        entity_key: str,
        ci_id: int,
        version: int,
        operation: str,
        snapshot: str,
    ) -> None:
        """Queue a version with its JSON ``snapshot``, and the closing of the current one for an update."""
        if operation != "create":
            self.closed.append((self.now, entity, entity_key))
        context = self.context
        self.added.append(
            (
                entity,
                entity_key,
                ci_id,
                version,
                operation,
                snapshot,
                context.actor,
                context.origin.value,
                context.request_id,
                context.change_id,
                self.now,
            )
        )

    def write(self, conn: sqlite3.Connection) -> None:
        conn.executemany(_CLOSE_VERSION, self.closed)
        conn.executemany(_INSERT_VERSION, self.added)


def write_version(
    conn: sqlite3.Connection,
    *,
    entity: str,
    entity_key: str,
    ci_id: int,
    version: int,
    operation: str,
    snapshot: dict[str, Any],
    context: ChangeContext,
    now: str,
) -> None:
    """Close the entity's current version and record a new one."""
    rows = _VersionRows(context=context, now=now)
    rows.add(
        entity=entity,
        entity_key=entity_key,
        ci_id=ci_id,
        version=version,
        operation=operation,
        snapshot=dumps(snapshot),
    )
    rows.write(conn)


def upsert_cis(
    conn: sqlite3.Connection, cis: Sequence[CIInput], *, context: ChangeContext, now: str
) -> BatchOutcome:
    """Create or update each CI by key; reject duplicates in the batch and stale expected versions.

    The batch's stored CIs are read with one query, and each kind of row is written with one
    ``executemany``. Only the first row of a key is considered, so each row is compared with the CI
    as stored before the batch.
    """
    outcome = BatchOutcome()
    result = outcome.result
    origin = context.origin.value
    stored_cis = _load_cis(conn, [ci.key for ci in cis])
    next_id = _next_id(conn, "ci")

    seen: set[str] = set()
    touched: list[tuple[str, int]] = []
    inserted: list[tuple[Any, ...]] = []
    updated: list[tuple[Any, ...]] = []
    lookups_replaced: list[tuple[int]] = []
    identifiers: list[tuple[int, str, str]] = []
    tags: list[tuple[int, str]] = []
    versions = _VersionRows(context=context, now=now)
    for index, ci in enumerate(cis):
        stored = stored_cis.get(ci.key)
        if not outcome.admit_ci(
            index, ci, seen=seen, stored_version=None if stored is None else stored.version
        ):
            continue

        content = _content(ci)
        if stored is not None and stored.content == content:
            touched.append((now, stored.id))
            result.unchanged += 1
            continue

        sources = _sources(ci, stored, origin)
        sources_json = dumps(sources)
        class_, name, status, criticality, identifiers_json, attributes, tags_json = content
        columns = (
            class_,
            name,
            name.casefold(),
            status,
            criticality,
            identifiers_json,
            attributes,
            tags_json,
            sources_json,
        )
        if stored is None:
            version = 1
            ci_id = next_id
            next_id += 1
            inserted.append((ci_id, ci.key, *columns, version, now, now, now, now))
            operation = "create"
            result.added += 1
        else:
            version = stored.version + 1
            ci_id = stored.id
            updated.append((*columns, version, now, now, ci_id))
            lookups_replaced.append((ci_id,))
            operation = "update"
            result.updated += 1

        identifiers.extend((ci_id, kind, value) for kind, value in ci.identifiers.lookup_values())
        tags.extend((ci_id, tag) for tag in ci.tags)
        snapshot = ci_snapshot(ci, content, sources_json, version)
        if snapshot is None:
            snapshot = dumps(_snapshot(ci, version, sources))
        versions.add(
            entity="ci",
            entity_key=ci.key,
            ci_id=ci_id,
            version=version,
            operation=operation,
            snapshot=snapshot,
        )

    conn.executemany("UPDATE ci SET last_seen = ? WHERE id = ?", touched)
    conn.executemany(
        "INSERT INTO ci (id, key, ci_class, name, name_folded, status, criticality, identifiers,"
        " attributes, tags, sources, version, first_seen, last_seen, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        inserted,
    )
    conn.executemany(
        "UPDATE ci SET ci_class = ?, name = ?, name_folded = ?, status = ?, criticality = ?,"
        " identifiers = ?, attributes = ?, tags = ?, sources = ?, version = ?,"
        " last_seen = ?, updated_at = ? WHERE id = ?",
        updated,
    )
    # Identifier and tag rows of an updated CI are replaced. A new CI has none yet.
    conn.executemany("DELETE FROM ci_identifier WHERE ci_id = ?", lookups_replaced)
    conn.executemany("DELETE FROM ci_tag WHERE ci_id = ?", lookups_replaced)
    conn.executemany("INSERT OR IGNORE INTO ci_identifier (ci_id, kind, value) VALUES (?, ?, ?)", identifiers)
    conn.executemany("INSERT INTO ci_tag (ci_id, tag) VALUES (?, ?)", tags)
    versions.write(conn)
    return outcome


def _impact_edge(
    relationship_id: int, source_id: int, target_id: int, rel: RelationshipInput
) -> tuple[int, int, int, str, str | None] | None:
    """Return the relationship's impact edge row in the direction impact flows, or None for a no-flow type."""
    flow = RELATIONSHIP_TYPES[rel.type].flow
    if flow is Flow.NONE:
        return None
    if flow is Flow.TARGET_TO_SOURCE:
        from_id, to_id = target_id, source_id
    else:
        from_id, to_id = source_id, target_id
    strength = impact_strength(rel.type, rel.properties.get("strength"))
    return (relationship_id, from_id, to_id, rel.type, strength.value if strength else None)


def _ci_ids(conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, int]:
    """Return the ids of the stored CIs among ``keys``, read in one query."""
    fill_keys(conn, keys)
    return dict(conn.execute("SELECT ci.key, ci.id FROM temp.scratch_key k CROSS JOIN ci ON ci.key = k.key"))


def _load_relationships(
    conn: sqlite3.Connection, identities: Sequence[tuple[int, str, int]]
) -> dict[tuple[int, str, int], tuple[int, str, int, str | None]]:
    """Return (id, properties, version, ended_at) of the stored relationships among ``identities``."""
    stored: dict[tuple[int, str, int], tuple[int, str, int, str | None]] = {}
    # The identities are passed as one JSON array, and json_each leads the join, so SQLite
    # searches the unique (source_id, type, target_id) index once per identity.
    for source_id, rel_type, target_id, *row in conn.execute(
        "SELECT r.source_id, r.type, r.target_id, r.id, r.properties, r.version, r.ended_at"
        " FROM json_each(?) j CROSS JOIN relationship r"
        " ON r.source_id = json_extract(j.value, '$[0]') AND r.type = json_extract(j.value, '$[1]')"
        " AND r.target_id = json_extract(j.value, '$[2]')",
        (json.dumps(identities),),
    ):
        stored[(source_id, rel_type, target_id)] = (row[0], row[1], row[2], row[3])
    return stored


def upsert_relationships(
    conn: sqlite3.Connection,
    relationships: Sequence[RelationshipInput],
    *,
    context: ChangeContext,
    now: str,
) -> BatchOutcome:
    """Create, update or reopen each relationship; reject rows naming a CI the store does not hold.

    As in ``upsert_cis``, the batch's stored rows are read with one query per table and each
    kind of row is written with one ``executemany``.
    """
    outcome = BatchOutcome()
    result = outcome.result
    ci_ids = _ci_ids(conn, {key for rel in relationships for key in (rel.source, rel.target)})

    # Only the first row of each identity is considered, and only when both of its CIs exist.
    # Rows are kept by index, so these tuples contain only strings and ints, which the garbage
    # collector stops tracking. Tuples that contain the models stay tracked until the batch ends.
    accepted: list[tuple[int, str, int, int]] = []
    seen: set[tuple[str, str, str]] = set()
    for index, rel in enumerate(relationships):
        identity = (rel.source, rel.type, rel.target)
        key = relationship_key(*identity)
        if identity in seen:
            message = f"duplicate relationship {key!r} in this batch; send each relationship once"
            result.rejected.append(RowError(index, key, message))
            continue
        seen.add(identity)

        source_id, target_id = ci_ids.get(rel.source), ci_ids.get(rel.target)
        if source_id is None or target_id is None:
            missing = [k for k in (rel.source, rel.target) if k not in ci_ids]
            names = " and ".join(repr(k) for k in missing)
            message = f"CI {names} not found; import the CI before relationships that name it"
            result.rejected.append(RowError(index, key, message))
            continue
        accepted.append((index, key, source_id, target_id))

    stored_rows = _load_relationships(conn, [(s, relationships[i].type, t) for i, _, s, t in accepted])
    next_id = _next_id(conn, "relationship")
    inserted: list[tuple[Any, ...]] = []
    updated: list[tuple[Any, ...]] = []
    edges: list[tuple[int, int, int, str, str | None]] = []
    edges_removed: list[tuple[int]] = []
    versions = _VersionRows(context=context, now=now)
    for index, key, source_id, target_id in accepted:
        rel = relationships[index]
        properties = dumps(rel.properties) if rel.properties else "{}"
        stored = stored_rows.get((source_id, rel.type, target_id))
        if stored is not None and stored[1] == properties and stored[3] is None:
            result.unchanged += 1
            continue

        if stored is None:
            version = 1
            relationship_id = next_id
            next_id += 1
            inserted.append((relationship_id, source_id, rel.type, target_id, properties, version, now, now))
            operation = "create"
            result.added += 1
        else:
            relationship_id, version = stored[0], stored[2] + 1
            updated.append((properties, version, now, relationship_id))
            operation = "update"
            result.updated += 1

        edge = _impact_edge(relationship_id, source_id, target_id, rel)
        if edge is not None:
            edges.append(edge)
        elif stored is not None:
            edges_removed.append((relationship_id,))
        versions.add(
            entity="relationship",
            entity_key=key,
            ci_id=source_id,
            version=version,
            operation=operation,
            snapshot=relationship_snapshot(rel, properties, version),
        )

    conn.executemany(
        "INSERT INTO relationship (id, source_id, type, target_id, properties, version,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        inserted,
    )
    conn.executemany(
        "UPDATE relationship SET properties = ?, version = ?, updated_at = ?, ended_at = NULL WHERE id = ?",
        updated,
    )
    conn.executemany("DELETE FROM impact_edge WHERE relationship_id = ?", edges_removed)
    conn.executemany(
        "INSERT OR REPLACE INTO impact_edge (relationship_id, from_id, to_id, type, strength)"
        " VALUES (?, ?, ?, ?, ?)",
        edges,
    )
    versions.write(conn)
    return outcome


def retire_ci(
    conn: sqlite3.Connection,
    key: str,
    *,
    expected_version: int | None,
    context: ChangeContext,
    now: str,
) -> CIRecord:
    """Set a CI's status to retired and record the version; a CI already retired is left as it is."""
    row = conn.execute(f"SELECT ci.id, {CI_COLUMNS} FROM ci WHERE ci.key = ?", (key,)).fetchone()
    if row is None:
        raise CINotFoundError(key)
    ci_id, record = row[0], ci_record(row[1:])
    if expected_version is not None and expected_version != record.version:
        raise VersionConflictError(key, expected_version, record.version)
    if record.status is Status.RETIRED:
        return record

    version = record.version + 1
    conn.execute(
        "UPDATE ci SET status = ?, version = ?, updated_at = ? WHERE id = ?",
        (Status.RETIRED.value, version, now, ci_id),
    )
    retired = record.model_copy(update={"status": Status.RETIRED, "version": version})
    snapshot = retired.model_dump(mode="json", exclude={"first_seen", "last_seen", "updated_at"})
    write_version(
        conn,
        entity="ci",
        entity_key=key,
        ci_id=ci_id,
        version=version,
        operation="retire",
        snapshot=snapshot,
        context=context,
        now=now,
    )
    updated = conn.execute(f"SELECT {CI_COLUMNS} FROM ci WHERE ci.id = ?", (ci_id,)).fetchone()
    return ci_record(updated)
