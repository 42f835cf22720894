"""The SQLite store's discovery methods: ending relationships, discovery run records and ageing out.

`SQLiteDiscoveryMethods` is a mixin of `SQLiteStore`; it uses the store's
`_read` and `_write` transactions.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cmdb.model import ChangeContext, CIInput, CIRecord, Status
from cmdb.store import sqlite_write
from cmdb.store.base import MAX_PAGE_SIZE, UpsertResult
from cmdb.store.base_discovery import DiscoveryRunPage, RelationshipIdentity, StoredDiscoveryRun
from cmdb.store.sqlite_rows import CI_COLUMNS, ci_record, dumps, relationship_key, utc_now
from cmdb.store.sqlite_write import write_version

logger = logging.getLogger(__name__)


def relabel_sources(conn: sqlite3.Connection, keys: Sequence[str], *, origin: str, source: str) -> None:
    """Replace the bare `origin` source of the CIs' attributes by `source`, in each CI and its version."""
    for key in keys:
        row = conn.execute("SELECT sources FROM ci WHERE key = ?", (key,)).fetchone()
        if row is None:
            continue
        sources: dict[str, str] = json.loads(row[0])
        if origin not in sources.values():
            continue
        relabelled = {name: source if value == origin else value for name, value in sources.items()}
        conn.execute("UPDATE ci SET sources = ? WHERE key = ?", (dumps(relabelled), key))
        version = conn.execute(
            "SELECT id, snapshot FROM version WHERE entity = 'ci' AND entity_key = ? AND valid_to IS NULL",
            (key,),
        ).fetchone()
        if version is not None:
            snapshot = json.loads(version[1])
            snapshot["sources"] = relabelled
            conn.execute("UPDATE version SET snapshot = ? WHERE id = ?", (dumps(snapshot), version[0]))


def end_relationships(
    conn: sqlite3.Connection, identities: Sequence[RelationshipIdentity], *, context: ChangeContext, now: str
) -> int:
    """Set ended_at on each live relationship named, drop its impact edge and record an `end` version."""
    ended = 0
    for source, rel_type, target in identities:
        row = conn.execute(
            "SELECT r.id, r.source_id, r.properties, r.version FROM relationship r"
            " JOIN ci s ON s.id = r.source_id JOIN ci t ON t.id = r.target_id"
            " WHERE s.key = ? AND r.type = ? AND t.key = ? AND r.ended_at IS NULL",
            (source, rel_type, target),
        ).fetchone()
        if row is None:
            continue
        relationship_id, source_id, properties, version = row[0], row[1], row[2], row[3] + 1
        conn.execute(
            "UPDATE relationship SET ended_at = ?, version = ?, updated_at = ? WHERE id = ?",
            (now, version, now, relationship_id),
        )
        conn.execute("DELETE FROM impact_edge WHERE relationship_id = ?", (relationship_id,))
        snapshot = {
            "source": source,
            "type": rel_type,
            "target": target,
            "properties": json.loads(properties),
            "version": version,
            "ended_at": now,
        }
        write_version(
            conn,
            entity="relationship",
            entity_key=relationship_key(source, rel_type, target),
            ci_id=source_id,
            version=version,
            operation="end",
            snapshot=snapshot,
            context=context,
            now=now,
        )
        ended += 1
    return ended


class SQLiteDiscoveryMethods:
    """Discovery methods of `SQLiteStore` (see `cmdb.store.base_discovery.DiscoveryStore`)."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def upsert_discovered_cis(
        self, cis: Sequence[CIInput], *, context: ChangeContext, source: str
    ) -> UpsertResult:
        with self._write() as conn:
            outcome = sqlite_write.upsert_cis(conn, cis, context=context, now=utc_now())
            relabel_sources(conn, [ci.key for ci in cis], origin=context.origin.value, source=source)
        for row in outcome.result.rejected:
            logger.warning("skipped discovered CI %s (%s): %s", row.index, row.key, row.message)
        return outcome.result

    def end_relationships(self, identities: Sequence[RelationshipIdentity], *, context: ChangeContext) -> int:
        with self._write() as conn:
            return end_relationships(conn, identities, context=context, now=utc_now())

    def save_discovery_run(self, run: StoredDiscoveryRun) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO discovery_run (id, started_at, document) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at,"
                " document = excluded.document",
                (run.id, run.started_at.astimezone(UTC).isoformat(), dumps(run.document)),
            )

    def get_discovery_run(self, run_id: str) -> StoredDiscoveryRun | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT id, started_at, document FROM discovery_run WHERE id = ?", (run_id,)
            ).fetchone()
        return _stored_run(row) if row else None

    def list_discovery_runs(self, *, first: int, after: str | None) -> DiscoveryRunPage:
        size = max(1, min(first, MAX_PAGE_SIZE))
        with self._read() as conn:
            if after is None:
                rows = conn.execute(
                    "SELECT id, started_at, document FROM discovery_run ORDER BY id DESC LIMIT ?",
                    (size + 1,),
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT id, started_at, document FROM discovery_run WHERE id < ?"
                    " ORDER BY id DESC LIMIT ?",
                    (after, size + 1),
                ).fetchall()
        items = [_stored_run(row) for row in rows[:size]]
        return DiscoveryRunPage(
            items=items, has_next=len(rows) > size, end_cursor=items[-1].id if items else None
        )

    def discovered_cis(self, *, seen_before: datetime) -> list[CIRecord]:
        if seen_before.tzinfo is None:
            raise ValueError(
                f"seen_before {seen_before.isoformat()} has no time zone; pass an aware datetime"
            )
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {CI_COLUMNS} FROM ci WHERE ci.last_seen < ? AND ci.status NOT IN (?, ?)"
                " AND ci.sources LIKE '%\"discovery%' ORDER BY ci.key",
                (seen_before.astimezone(UTC).isoformat(), Status.STALE.value, Status.RETIRED.value),
            ).fetchall()
        return [ci_record(row) for row in rows]


def _stored_run(row: Sequence[str]) -> StoredDiscoveryRun:
    return StoredDiscoveryRun(
        id=row[0], started_at=datetime.fromisoformat(row[1]), document=json.loads(row[2])
    )
