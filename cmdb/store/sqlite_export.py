"""Raw export and import of the SQLite store's rows: ``ExportableStore`` for ``SQLiteStore``.

Imports write the ``ci``, ``relationship``, ``version`` and ``api_token`` rows as given and
derive the lookup rows (identifiers, tags, impact edges) the way the upserts do. Change
management and discovery run rows are in ``cmdb.store.sqlite_export_changes``. The copy
checkpoint is the one row of the table ``copy_progress``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from cmdb.model import RELATIONSHIP_TYPES, Flow, Identifiers, impact_strength
from cmdb.store import sqlite_export_changes
from cmdb.store.base import StoreError
from cmdb.store.export import (
    CopyProgress,
    ExportSummary,
    RawApproval,
    RawBatch,
    RawChange,
    RawCI,
    RawDiscoveryRun,
    RawFreezeException,
    RawFreezeWindow,
    RawRelationship,
    RawReview,
    RawToken,
    RawVersion,
)
from cmdb.store.sqlite import SQLiteStore
from cmdb.store.sqlite_rows import chunked, dumps, placeholders

_CI_EXPORT_COLUMNS = (
    "key, ci_class, name, status, criticality, identifiers, attributes, tags, sources, version,"
    " first_seen, last_seen, created_at, updated_at"
)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _optional_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _text(value: datetime) -> str:
    """Return an instant in the store's text form, ``datetime.isoformat`` in UTC."""
    return value.astimezone(UTC).isoformat()


def _optional_text(value: datetime | None) -> str | None:
    return None if value is None else _text(value)


class SQLiteExportStore(SQLiteStore):
    """The SQLite store with the ``ExportableStore`` methods."""

    # Export

    def export_summary(self) -> ExportSummary:
        with self._read() as conn:
            (cis,) = conn.execute("SELECT count(*) FROM ci").fetchone()
            (relationships,) = conn.execute("SELECT count(*) FROM relationship").fetchone()
            (versions, last) = conn.execute("SELECT count(*), max(valid_from) FROM version").fetchone()
            (tokens,) = conn.execute("SELECT count(*) FROM api_token").fetchone()
            change_counts, last_change_update = sqlite_export_changes.summary(conn)
        return ExportSummary(
            cis=cis,
            relationships=relationships,
            versions=versions,
            tokens=tokens,
            **change_counts,
            last_valid_from=_optional_time(last),
            last_change_update=last_change_update,
        )

    def export_cis(self, *, after: str | None, limit: int) -> list[RawCI]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_CI_EXPORT_COLUMNS} FROM ci WHERE key > ? ORDER BY key LIMIT ?",
                (after or "", limit),
            ).fetchall()
        return [
            RawCI(
                key=row[0],
                ci_class=row[1],
                name=row[2],
                status=row[3],
                criticality=row[4],
                identifiers=json.loads(row[5]),
                attributes=json.loads(row[6]),
                tags=json.loads(row[7]),
                sources=json.loads(row[8]),
                version=row[9],
                first_seen=_time(row[10]),
                last_seen=_time(row[11]),
                created_at=_time(row[12]),
                updated_at=_time(row[13]),
            )
            for row in rows
        ]

    def export_ci_keys(self, *, after: str | None, limit: int) -> list[str]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT key FROM ci WHERE key > ? ORDER BY key LIMIT ?", (after or "", limit)
            ).fetchall()
        return [row[0] for row in rows]

    def export_relationships(self, source_keys: Sequence[str]) -> list[RawRelationship]:
        found: list[RawRelationship] = []
        with self._read() as conn:
            for chunk in chunked(list(source_keys)):
                rows = conn.execute(
                    "SELECT s.key, r.type, t.key, r.properties, r.version, r.created_at, r.updated_at,"
                    " r.ended_at FROM relationship r JOIN ci s ON s.id = r.source_id"
                    f" JOIN ci t ON t.id = r.target_id WHERE s.key IN ({placeholders(len(chunk))})"
                    " ORDER BY r.id",
                    chunk,
                ).fetchall()
                found.extend(
                    RawRelationship(
                        source=row[0],
                        type=row[1],
                        target=row[2],
                        properties=json.loads(row[3]),
                        version=row[4],
                        created_at=_time(row[5]),
                        updated_at=_time(row[6]),
                        ended_at=_optional_time(row[7]),
                    )
                    for row in rows
                )
        return found

    def export_versions(self, ci_keys: Sequence[str]) -> list[RawVersion]:
        found: list[RawVersion] = []
        with self._read() as conn:
            for chunk in chunked(list(ci_keys)):
                rows = conn.execute(
                    "SELECT v.entity, v.entity_key, c.key, v.version, v.operation, v.snapshot, v.actor,"
                    " v.origin, v.request_id, v.change_id, v.valid_from, v.valid_to, v.id"
                    " FROM version v JOIN ci c ON c.id = v.ci_id"
                    f" WHERE c.key IN ({placeholders(len(chunk))}) ORDER BY v.id",
                    chunk,
                ).fetchall()
                found.extend(
                    RawVersion(
                        entity=row[0],
                        key=row[1],
                        ci_key=row[2],
                        version=row[3],
                        operation=row[4],
                        snapshot=json.loads(row[5]),
                        actor=row[6],
                        origin=row[7],
                        request_id=row[8],
                        change_id=row[9],
                        valid_from=_time(row[10]),
                        valid_to=_optional_time(row[11]),
                        seq=row[12],
                    )
                    for row in rows
                )
        found.sort(key=lambda v: v.seq)
        return found

    def export_tokens(self) -> list[RawToken]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT name, token_hash, actor, roles, created_at FROM api_token ORDER BY name"
            ).fetchall()
        return [
            RawToken(
                name=row[0],
                token_hash=row[1],
                actor=row[2],
                roles=json.loads(row[3]),
                created_at=_time(row[4]),
            )
            for row in rows
        ]

    def export_changes(self, *, after: str | None, limit: int) -> list[RawChange]:
        with self._read() as conn:
            return sqlite_export_changes.export_changes(conn, after=after, limit=limit)

    def export_approvals(self, change_ids: Sequence[str]) -> list[RawApproval]:
        with self._read() as conn:
            return sqlite_export_changes.export_approvals(conn, change_ids)

    def export_reviews(self, change_ids: Sequence[str]) -> list[RawReview]:
        with self._read() as conn:
            return sqlite_export_changes.export_reviews(conn, change_ids)

    def export_freeze_windows(self, *, after: str | None, limit: int) -> list[RawFreezeWindow]:
        with self._read() as conn:
            return sqlite_export_changes.export_freeze_windows(conn, after=after, limit=limit)

    def export_freeze_exceptions(self, *, after: int | None, limit: int) -> list[RawFreezeException]:
        with self._read() as conn:
            return sqlite_export_changes.export_freeze_exceptions(conn, after=after, limit=limit)

    def export_discovery_runs(self, *, after: str | None, limit: int) -> list[RawDiscoveryRun]:
        with self._read() as conn:
            return sqlite_export_changes.export_discovery_runs(conn, after=after, limit=limit)

    def copy_progress(self) -> CopyProgress | None:
        with self._read() as conn:
            row = conn.execute("SELECT source, fingerprint, phase, cursor FROM copy_progress").fetchone()
        if row is None:
            return None
        return CopyProgress(source=row[0], fingerprint=row[1], phase=row[2], cursor=row[3])

    # Import

    def import_batch(self, batch: RawBatch, *, progress: CopyProgress) -> None:
        try:
            with self._write() as conn:
                _import_cis(conn, batch.cis)
                _import_relationships(conn, batch.relationships)
                _import_versions(conn, batch.versions)
                _import_tokens(conn, batch.tokens)
                sqlite_export_changes.import_change_management(conn, batch)
                conn.execute(
                    "INSERT INTO copy_progress (id, source, fingerprint, phase, cursor, updated_at)"
                    " VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET source = excluded.source,"
                    " fingerprint = excluded.fingerprint, phase = excluded.phase, cursor = excluded.cursor,"
                    " updated_at = excluded.updated_at",
                    (
                        progress.source,
                        progress.fingerprint,
                        progress.phase,
                        progress.cursor,
                        datetime.now(UTC).isoformat(),
                    ),
                )
        except sqlite3.IntegrityError as error:
            raise StoreError(f"import into SQLite store {self.path!r} failed: {error}") from error


def _ci_ids(conn: sqlite3.Connection, keys: Sequence[str]) -> dict[str, int]:
    """Return the row id of each CI key; raise StoreError naming a key the store does not hold."""
    ids: dict[str, int] = {}
    unique = sorted(set(keys))
    for chunk in chunked(unique):
        rows = conn.execute(f"SELECT key, id FROM ci WHERE key IN ({placeholders(len(chunk))})", chunk)
        ids.update((key, ci_id) for key, ci_id in rows)
    missing = [key for key in unique if key not in ids]
    if missing:
        raise StoreError(f"CI {missing[0]!r} not found in the target; import CIs before their relationships")
    return ids


def _import_cis(conn: sqlite3.Connection, cis: Sequence[RawCI]) -> None:
    for ci in cis:
        cursor = conn.execute(
            "INSERT INTO ci (key, ci_class, name, name_folded, status, criticality, identifiers,"
            " attributes, tags, sources, version, first_seen, last_seen, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ci.key,
                ci.ci_class,
                ci.name,
                ci.name.casefold(),
                ci.status,
                ci.criticality,
                dumps(ci.identifiers),
                dumps(ci.attributes),
                dumps(ci.tags),
                dumps(ci.sources),
                ci.version,
                _text(ci.first_seen),
                _text(ci.last_seen),
                _text(ci.created_at),
                _text(ci.updated_at),
            ),
        )
        ci_id = cursor.lastrowid
        lookups = Identifiers.model_validate(ci.identifiers).lookup_values()
        conn.executemany(
            "INSERT OR IGNORE INTO ci_identifier (ci_id, kind, value) VALUES (?, ?, ?)",
            [(ci_id, kind, value) for kind, value in lookups],
        )
        conn.executemany("INSERT INTO ci_tag (ci_id, tag) VALUES (?, ?)", [(ci_id, tag) for tag in ci.tags])


def _import_relationships(conn: sqlite3.Connection, relationships: Sequence[RawRelationship]) -> None:
    ids = _ci_ids(conn, [key for rel in relationships for key in (rel.source, rel.target)])
    for rel in relationships:
        source_id, target_id = ids[rel.source], ids[rel.target]
        cursor = conn.execute(
            "INSERT INTO relationship (source_id, type, target_id, properties, version, created_at,"
            " updated_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                source_id,
                rel.type,
                target_id,
                dumps(rel.properties),
                rel.version,
                _text(rel.created_at),
                _text(rel.updated_at),
                _optional_text(rel.ended_at),
            ),
        )
        flow = RELATIONSHIP_TYPES[rel.type].flow
        if rel.ended_at is not None or flow is Flow.NONE:
            continue
        from_id, to_id = (target_id, source_id) if flow is Flow.TARGET_TO_SOURCE else (source_id, target_id)
        strength = impact_strength(rel.type, rel.properties.get("strength"))
        conn.execute(
            "INSERT INTO impact_edge (relationship_id, from_id, to_id, type, strength)"
            " VALUES (?, ?, ?, ?, ?)",
            (cursor.lastrowid, from_id, to_id, rel.type, strength.value if strength else None),
        )


def _import_versions(conn: sqlite3.Connection, versions: Sequence[RawVersion]) -> None:
    ids = _ci_ids(conn, [version.ci_key for version in versions])
    conn.executemany(
        "INSERT INTO version (entity, entity_key, ci_id, version, operation, snapshot, actor, origin,"
        " request_id, change_id, valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                version.entity,
                version.key,
                ids[version.ci_key],
                version.version,
                version.operation,
                dumps(version.snapshot),
                version.actor,
                version.origin,
                version.request_id,
                version.change_id,
                _text(version.valid_from),
                _optional_text(version.valid_to),
            )
            for version in sorted(versions, key=lambda v: (v.valid_from, v.entity, v.seq))
        ],
    )


def _import_tokens(conn: sqlite3.Connection, tokens: Sequence[RawToken]) -> None:
    conn.executemany(
        "INSERT INTO api_token (name, token_hash, actor, roles, created_at) VALUES (?, ?, ?, ?, ?)",
        [
            (token.name, token.token_hash, token.actor, json.dumps(token.roles), _text(token.created_at))
            for token in tokens
        ],
    )
