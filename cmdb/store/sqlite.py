"""The embedded SQLite store, the default ``GraphStore``.

One connection per thread, WAL so readers do not wait for the writer, and one
``BEGIN IMMEDIATE`` transaction per write call. A lock serialises the writes of this
process's threads, so they queue in Python instead of polling SQLite's busy handler.
Writers in other processes are waited for through ``busy_timeout``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from cmdb.model import (
    ChangeContext,
    CIInput,
    CIRecord,
    Direction,
    RelationshipInput,
    RelationshipRecord,
    VersionRecord,
)
from cmdb.store import sqlite_changes, sqlite_graph, sqlite_history, sqlite_write
from cmdb.store.base import (
    MAX_PAGE_SIZE,
    ApiToken,
    ApprovalRecord,
    CIFilter,
    FreezeExceptionRecord,
    ImpactClosure,
    ImpactContext,
    Neighbour,
    Page,
    ReviewRecord,
    StoredChange,
    StoredFreezeWindow,
    StoreError,
    UpsertResult,
)
from cmdb.store.batch import BatchOutcome
from cmdb.store.sqlite_discovery import SQLiteDiscoveryMethods
from cmdb.store.sqlite_rows import (
    CI_COLUMNS,
    chunked,
    ci_record,
    identifier_candidates,
    placeholders,
    utc_now,
)
from cmdb.store.sqlite_schema import connect, migrate

logger = logging.getLogger(__name__)

T = TypeVar("T")


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError(f"invalid cursor {cursor!r}; pass the end_cursor of the previous page") from None


class SQLiteStore(SQLiteDiscoveryMethods):
    """A ``GraphStore`` in one SQLite file, safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False
        try:
            migrate(self._connection())
        except sqlite3.Error as error:
            self.close()
            raise StoreError(f"failed to open SQLite store {self.path!r}: {error}") from error
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # Connections and transactions

    def _connection(self) -> sqlite3.Connection:
        # NOTE: a thread's connection stays open until close(), even after the thread ends.
        # Servers reuse a bounded pool of threads, so the number of connections stays bounded.
        if self._closed:
            raise StoreError(f"SQLite store {self.path!r} is closed; open it again")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                if self._closed:
                    raise StoreError(f"SQLite store {self.path!r} is closed; open it again")
                conn = connect(self.path)
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """Run the body's queries in one read transaction, so they see one snapshot."""
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run the body in one write transaction, rolled back when the body raises."""
        conn = self._connection()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _batch(
        self,
        write: Callable[[sqlite3.Connection, str], BatchOutcome],
        *,
        strict: bool,
    ) -> UpsertResult:
        with self._write() as conn:
            outcome = write(conn, utc_now())
            outcome.raise_if_strict(strict)
        for row in outcome.result.rejected:
            logger.warning("skipped row %s (%s): %s", row.index, row.key, row.message)
        return outcome.result

    # Writes

    def upsert_cis(
        self, cis: Sequence[CIInput], *, context: ChangeContext, strict: bool = False
    ) -> UpsertResult:
        return self._batch(
            lambda conn, now: sqlite_write.upsert_cis(conn, cis, context=context, now=now),
            strict=strict,
        )

    def upsert_relationships(
        self,
        relationships: Sequence[RelationshipInput],
        *,
        context: ChangeContext,
        strict: bool = False,
    ) -> UpsertResult:
        return self._batch(
            lambda conn, now: sqlite_write.upsert_relationships(
                conn, relationships, context=context, now=now
            ),
            strict=strict,
        )

    def retire_ci(self, key: str, *, expected_version: int | None, context: ChangeContext) -> CIRecord:
        with self._write() as conn:
            return sqlite_write.retire_ci(
                conn, key, expected_version=expected_version, context=context, now=utc_now()
            )

    def save_token(self, token: ApiToken) -> None:
        """Store a token under its name, replacing the token of that name if there is one."""
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO api_token (name, token_hash, actor, roles, created_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                    " token_hash = excluded.token_hash, actor = excluded.actor,"
                    " roles = excluded.roles, created_at = excluded.created_at",
                    (token.name, token.token_hash, token.actor, json.dumps(list(token.roles)), utc_now()),
                )
        except sqlite3.IntegrityError:
            raise StoreError(
                f"token {token.name!r} has the same hash as another stored token; generate a new token"
            ) from None

    # Reads

    def get_ci(self, key: str) -> CIRecord | None:
        row = self._connection().execute(f"SELECT {CI_COLUMNS} FROM ci WHERE ci.key = ?", (key,)).fetchone()
        return ci_record(row) if row else None

    def get_cis(self, keys: Iterable[str]) -> dict[str, CIRecord]:
        found: dict[str, CIRecord] = {}
        with self._read() as conn:
            for chunk in chunked(sorted(set(keys))):
                for row in conn.execute(
                    f"SELECT {CI_COLUMNS} FROM ci WHERE ci.key IN ({placeholders(len(chunk))})",
                    chunk,
                ):
                    record = ci_record(row)
                    found[record.key] = record
        return found

    def find_cis(self, text: str) -> list[CIRecord]:
        value = text.strip()
        if not value:
            return []
        pairs = identifier_candidates(value)
        matches = " OR ".join("(i.kind = ? AND i.value = ?)" for _ in pairs)
        rows = (
            self._connection()
            .execute(
                f"SELECT {CI_COLUMNS} FROM ci WHERE ci.key = ? OR ci.name_folded = ?"
                f" OR ci.id IN (SELECT i.ci_id FROM ci_identifier i WHERE {matches}) ORDER BY ci.key",
                [value, value.casefold(), *(part for pair in pairs for part in pair)],
            )
            .fetchall()
        )
        return [ci_record(row) for row in rows]

    def search_cis(self, ci_filter: CIFilter, *, first: int, after: str | None) -> Page:
        """Return one page of the CIs matching ``ci_filter``, ordered by key, after the cursor ``after``.

        ``first`` is clamped to 1..MAX_PAGE_SIZE. The cursor is the last key of the previous
        page, so CIs added or removed between calls cause neither duplicates nor gaps.
        """
        size = max(1, min(first, MAX_PAGE_SIZE))
        where, params = _filter_clause(ci_filter)
        page_where, page_params = list(where), list(params)
        if after is not None:
            page_where.append("ci.key > ?")
            page_params.append(decode_cursor(after))
        with self._read() as conn:
            (total,) = conn.execute(
                f"SELECT count(*) FROM ci WHERE {' AND '.join(where) or '1'}", params
            ).fetchone()
            rows = conn.execute(
                f"SELECT {CI_COLUMNS} FROM ci WHERE {' AND '.join(page_where) or '1'}"
                " ORDER BY ci.key LIMIT ?",
                [*page_params, size + 1],
            ).fetchall()
        items = [ci_record(row) for row in rows[:size]]
        return Page(
            items=items,
            has_next=len(rows) > size,
            end_cursor=encode_cursor(items[-1].key) if items else None,
            total=total,
        )

    def relationships(
        self, key: str, *, direction: Direction, types: Sequence[str] = ()
    ) -> list[RelationshipRecord]:
        with self._read() as conn:
            return sqlite_graph.relationships(conn, key, direction=direction, types=types)

    def neighbours(
        self, key: str, *, depth: int, direction: Direction, types: Sequence[str] = ()
    ) -> list[Neighbour]:
        with self._read() as conn:
            return sqlite_graph.neighbours(conn, key, depth=depth, direction=direction, types=types)

    def impact_closure(self, roots: Iterable[str]) -> ImpactClosure:
        with self._read() as conn:
            return sqlite_graph.impact_closure(conn, roots)

    def impact_context(self, keys: Iterable[str]) -> ImpactContext:
        with self._read() as conn:
            return sqlite_graph.impact_context(conn, keys)

    def versions(self, key: str) -> list[VersionRecord]:
        """Return the versions of a CI and of the relationships it is the source of, oldest first.

        Raise CINotFoundError when the store does not hold ``key``.
        """
        with self._read() as conn:
            ci_id = sqlite_graph.ci_id(conn, key)
            rows = conn.execute(
                "SELECT entity, entity_key, version, operation, snapshot, actor, origin,"
                " request_id, change_id, valid_from, valid_to FROM version WHERE ci_id = ?"
                " ORDER BY id",
                (ci_id,),
            ).fetchall()
        return [
            VersionRecord(
                entity=row[0],
                key=row[1],
                version=row[2],
                operation=row[3],
                snapshot=json.loads(row[4]),
                actor=row[5],
                origin=row[6],
                request_id=row[7],
                change_id=row[8],
                valid_from=row[9],
                valid_to=row[10],
            )
            for row in rows
        ]

    # History and change management

    def versions_as_of(self, at: datetime) -> list[VersionRecord]:
        with self._read() as conn:
            return sqlite_history.versions_as_of(conn, at)

    def save_changes(
        self, changes: Sequence[StoredChange], *, freeze_windows: Sequence[StoredFreezeWindow] = ()
    ) -> None:
        with self._write() as conn:
            sqlite_changes.save_changes(conn, changes, freeze_windows, now=utc_now())

    def get_change(self, change_id: str) -> StoredChange | None:
        with self._read() as conn:
            return sqlite_changes.get_change(conn, change_id)

    def list_changes(self, *, states: Sequence[str] = ()) -> list[StoredChange]:
        with self._read() as conn:
            return sqlite_changes.list_changes(conn, states)

    def list_freeze_windows(self) -> list[StoredFreezeWindow]:
        with self._read() as conn:
            return sqlite_changes.list_freeze_windows(conn)

    def apply_change(
        self,
        cis: Sequence[CIInput],
        *,
        change: StoredChange,
        context: ChangeContext,
        freeze_exceptions: Sequence[FreezeExceptionRecord] = (),
    ) -> UpsertResult:
        with self._write() as conn:
            return sqlite_changes.apply_change(
                conn,
                cis,
                change=change,
                context=context,
                freeze_exceptions=freeze_exceptions,
                now=utc_now(),
            )

    def save_approval(self, approval: ApprovalRecord) -> None:
        with self._write() as conn:
            sqlite_changes.save_approval(conn, approval)

    def approvals(self, change_id: str) -> list[ApprovalRecord]:
        with self._read() as conn:
            return sqlite_changes.approvals(conn, change_id)

    def freeze_exceptions(self, *, change_id: str | None = None) -> list[FreezeExceptionRecord]:
        with self._read() as conn:
            return sqlite_changes.freeze_exceptions(conn, change_id)

    def save_review(self, review: ReviewRecord) -> None:
        with self._write() as conn:
            sqlite_changes.save_review(conn, review)

    def reviews(self, change_id: str) -> list[ReviewRecord]:
        with self._read() as conn:
            return sqlite_changes.reviews(conn, change_id)

    def counts(self) -> dict[str, int]:
        """Return the number of CIs (retired ones included), live relationships and versions."""
        with self._read() as conn:
            (cis,) = conn.execute("SELECT count(*) FROM ci").fetchone()
            (relationships,) = conn.execute(
                "SELECT count(*) FROM relationship WHERE ended_at IS NULL"
            ).fetchone()
            (versions,) = conn.execute("SELECT count(*) FROM version").fetchone()
        return {"cis": cis, "relationships": relationships, "versions": versions}

    def find_token(self, token_hash: str) -> ApiToken | None:
        row = (
            self._connection()
            .execute(
                "SELECT name, token_hash, actor, roles FROM api_token WHERE token_hash = ?",
                (token_hash,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return ApiToken(name=row[0], token_hash=row[1], actor=row[2], roles=tuple(json.loads(row[3])))

    def ping(self) -> None:
        self._connection().execute("SELECT 1").fetchone()

    def close(self) -> None:
        """Close every thread's connection; later calls raise StoreError."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()


def _filter_clause(ci_filter: CIFilter) -> tuple[list[str], list[object]]:
    """Return the WHERE conditions and parameters of a search filter; every condition must hold."""
    where: list[str] = []
    params: list[object] = []
    if ci_filter.ci_classes:
        where.append(f"ci.ci_class IN ({placeholders(len(ci_filter.ci_classes))})")
        params.extend(ci_filter.ci_classes)
    if ci_filter.criticalities:
        where.append(f"ci.criticality IN ({placeholders(len(ci_filter.criticalities))})")
        params.extend(c.value for c in ci_filter.criticalities)
    if ci_filter.statuses:
        where.append(f"ci.status IN ({placeholders(len(ci_filter.statuses))})")
        params.extend(s.value for s in ci_filter.statuses)
    if ci_filter.tag is not None and ci_filter.tag.strip():
        where.append("EXISTS (SELECT 1 FROM ci_tag t WHERE t.ci_id = ci.id AND t.tag = ?)")
        params.append(ci_filter.tag.strip().lower())
    text = (ci_filter.text or "").strip()
    if text:
        # Key and name match as case-insensitive substrings, identifiers exactly.
        pairs = identifier_candidates(text)
        matches = " OR ".join("(i.kind = ? AND i.value = ?)" for _ in pairs)
        where.append(
            "(instr(lower(ci.key), ?) > 0 OR instr(ci.name_folded, ?) > 0"
            f" OR ci.id IN (SELECT i.ci_id FROM ci_identifier i WHERE {matches}))"
        )
        params.extend([text.lower(), text.casefold()])
        params.extend(part for pair in pairs for part in pair)
    return where, params
