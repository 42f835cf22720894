"""Writes of the SQLite store: CI and relationship upserts, retirement, and their history rows.

Every function here runs inside a transaction that the caller has begun, and checks each row
before writing it, so a rejected row leaves nothing behind.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
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
    UpsertResult,
    VersionConflictError,
)
from cmdb.store.sqlite_rows import CI_COLUMNS, ci_record, dumps, relationship_key


@dataclass(slots=True)
class BatchOutcome:
    """An upsert's result, plus the version conflicts among its rejected rows by row index."""

    result: UpsertResult = field(default_factory=UpsertResult)
    conflicts: dict[int, VersionConflictError] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _StoredCI:
    id: int
    version: int
    content: tuple[str, ...]
    attributes: dict[str, Any]
    sources: dict[str, str]


def _content(ci: CIInput) -> tuple[str, ...]:
    """Return what decides whether a CI changed, in the order of the ``_load_ci`` columns."""
    return (
        ci.ci_class,
        ci.name,
        ci.status.value,
        ci.criticality.value,
        dumps(ci.identifiers.model_dump(mode="json")),
        dumps(ci.attributes),
        dumps(ci.tags),
    )


def _load_ci(conn: sqlite3.Connection, key: str) -> _StoredCI | None:
    row = conn.execute(
        "SELECT id, version, ci_class, name, status, criticality, identifiers, attributes, tags,"
        " sources FROM ci WHERE key = ?",
        (key,),
    ).fetchone()
    if row is None:
        return None
    return _StoredCI(
        id=row[0],
        version=row[1],
        content=tuple(row[2:9]),
        attributes=json.loads(row[7]),
        sources=json.loads(row[9]),
    )


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
    conn.execute(
        "UPDATE version SET valid_to = ? WHERE entity = ? AND entity_key = ? AND valid_to IS NULL",
        (now, entity, entity_key),
    )
    conn.execute(
        "INSERT INTO version (entity, entity_key, ci_id, version, operation, snapshot, actor,"
        " origin, request_id, change_id, valid_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entity,
            entity_key,
            ci_id,
            version,
            operation,
            dumps(snapshot),
            context.actor,
            context.origin.value,
            context.request_id,
            context.change_id,
            now,
        ),
    )


def _write_lookups(conn: sqlite3.Connection, ci_id: int, ci: CIInput) -> None:
    """Replace the identifier and tag index rows of a CI."""
    conn.execute("DELETE FROM ci_identifier WHERE ci_id = ?", (ci_id,))
    conn.executemany(
        "INSERT OR IGNORE INTO ci_identifier (ci_id, kind, value) VALUES (?, ?, ?)",
        [(ci_id, kind, value) for kind, value in ci.identifiers.lookup_values()],
    )
    conn.execute("DELETE FROM ci_tag WHERE ci_id = ?", (ci_id,))
    conn.executemany("INSERT INTO ci_tag (ci_id, tag) VALUES (?, ?)", [(ci_id, tag) for tag in ci.tags])


def upsert_cis(
    conn: sqlite3.Connection, cis: Sequence[CIInput], *, context: ChangeContext, now: str
) -> BatchOutcome:
    """Create or update each CI by key; reject duplicates in the batch and stale expected versions."""
    outcome = BatchOutcome()
    result = outcome.result
    origin = context.origin.value
    seen: set[str] = set()
    for index, ci in enumerate(cis):
        if ci.key in seen:
            message = f"duplicate key {ci.key!r} in this batch; send each CI once per batch"
            result.rejected.append(RowError(index, ci.key, message))
            continue
        seen.add(ci.key)

        stored = _load_ci(conn, ci.key)
        if ci.version is not None:
            if stored is None:
                message = (
                    f"CI {ci.key!r} not found, but version {ci.version} was expected;"
                    " omit the version to create it"
                )
                result.rejected.append(RowError(index, ci.key, message))
                continue
            if stored.version != ci.version:
                conflict = VersionConflictError(ci.key, ci.version, stored.version)
                outcome.conflicts[index] = conflict
                result.rejected.append(RowError(index, ci.key, str(conflict)))
                continue

        content = _content(ci)
        if stored is not None and stored.content == content:
            conn.execute("UPDATE ci SET last_seen = ? WHERE id = ?", (now, stored.id))
            result.unchanged += 1
            continue

        sources = _sources(ci, stored, origin)
        class_, name, status, criticality, identifiers, attributes, tags = content
        if stored is None:
            version = 1
            cursor = conn.execute(
                "INSERT INTO ci (key, ci_class, name, name_folded, status, criticality, identifiers,"
                " attributes, tags, sources, version, first_seen, last_seen, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ci.key,
                    class_,
                    name,
                    name.casefold(),
                    status,
                    criticality,
                    identifiers,
                    attributes,
                    tags,
                    dumps(sources),
                    version,
                    now,
                    now,
                    now,
                    now,
                ),
            )
            assert cursor.lastrowid is not None
            ci_id = cursor.lastrowid
            operation = "create"
            result.added += 1
        else:
            version = stored.version + 1
            ci_id = stored.id
            conn.execute(
                "UPDATE ci SET ci_class = ?, name = ?, name_folded = ?, status = ?, criticality = ?,"
                " identifiers = ?, attributes = ?, tags = ?, sources = ?, version = ?,"
                " last_seen = ?, updated_at = ? WHERE id = ?",
                (
                    class_,
                    name,
                    name.casefold(),
                    status,
                    criticality,
                    identifiers,
                    attributes,
                    tags,
                    dumps(sources),
                    version,
                    now,
                    now,
                    ci_id,
                ),
            )
            operation = "update"
            result.updated += 1

        _write_lookups(conn, ci_id, ci)
        write_version(
            conn,
            entity="ci",
            entity_key=ci.key,
            ci_id=ci_id,
            version=version,
            operation=operation,
            snapshot=_snapshot(ci, version, sources),
            context=context,
            now=now,
        )
    return outcome


def _write_impact_edge(
    conn: sqlite3.Connection, relationship_id: int, source_id: int, target_id: int, rel: RelationshipInput
) -> None:
    """Write the relationship's impact edge in the direction impact flows, or none for a no-flow type."""
    flow = RELATIONSHIP_TYPES[rel.type].flow
    if flow is Flow.NONE:
        conn.execute("DELETE FROM impact_edge WHERE relationship_id = ?", (relationship_id,))
        return
    if flow is Flow.TARGET_TO_SOURCE:
        from_id, to_id = target_id, source_id
    else:
        from_id, to_id = source_id, target_id
    strength = impact_strength(rel.type, rel.properties.get("strength"))
    conn.execute(
        "INSERT OR REPLACE INTO impact_edge (relationship_id, from_id, to_id, type, strength)"
        " VALUES (?, ?, ?, ?, ?)",
        (relationship_id, from_id, to_id, rel.type, strength.value if strength else None),
    )


def upsert_relationships(
    conn: sqlite3.Connection,
    relationships: Sequence[RelationshipInput],
    *,
    context: ChangeContext,
    now: str,
) -> BatchOutcome:
    """Create, update or reopen each relationship; reject rows naming a CI the store does not hold."""
    outcome = BatchOutcome()
    result = outcome.result
    ci_ids: dict[str, int | None] = {}
    seen: set[tuple[str, str, str]] = set()
    for index, rel in enumerate(relationships):
        key = relationship_key(rel.source, rel.type, rel.target)
        if rel.identity in seen:
            message = f"duplicate relationship {key!r} in this batch; send each relationship once"
            result.rejected.append(RowError(index, key, message))
            continue
        seen.add(rel.identity)

        for ci_key in (rel.source, rel.target):
            if ci_key not in ci_ids:
                row = conn.execute("SELECT id FROM ci WHERE key = ?", (ci_key,)).fetchone()
                ci_ids[ci_key] = row[0] if row else None
        missing = [k for k in (rel.source, rel.target) if ci_ids[k] is None]
        if missing:
            names = " and ".join(repr(k) for k in missing)
            message = f"CI {names} not found; import the CI before relationships that name it"
            result.rejected.append(RowError(index, key, message))
            continue
        source_id, target_id = ci_ids[rel.source], ci_ids[rel.target]
        assert source_id is not None and target_id is not None

        properties = dumps(rel.properties)
        stored = conn.execute(
            "SELECT id, properties, version, ended_at FROM relationship"
            " WHERE source_id = ? AND type = ? AND target_id = ?",
            (source_id, rel.type, target_id),
        ).fetchone()
        if stored is not None and stored[1] == properties and stored[3] is None:
            result.unchanged += 1
            continue

        if stored is None:
            version = 1
            cursor = conn.execute(
                "INSERT INTO relationship (source_id, type, target_id, properties, version,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (source_id, rel.type, target_id, properties, version, now, now),
            )
            assert cursor.lastrowid is not None
            relationship_id = cursor.lastrowid
            operation = "create"
            result.added += 1
        else:
            relationship_id, version = stored[0], stored[2] + 1
            conn.execute(
                "UPDATE relationship SET properties = ?, version = ?, updated_at = ?, ended_at = NULL"
                " WHERE id = ?",
                (properties, version, now, relationship_id),
            )
            operation = "update"
            result.updated += 1

        _write_impact_edge(conn, relationship_id, source_id, target_id, rel)
        snapshot = {**rel.model_dump(mode="json"), "version": version}
        write_version(
            conn,
            entity="relationship",
            entity_key=key,
            ci_id=source_id,
            version=version,
            operation=operation,
            snapshot=snapshot,
            context=context,
            now=now,
        )
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
