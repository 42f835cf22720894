"""Change management in the SQLite store: change records, freeze windows, approvals and reviews.

Writes run inside a transaction that the caller has begun; reads inside a read transaction.
Instants are stored as ISO 8601 text in UTC.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from cmdb.model import ChangeContext, CIInput
from cmdb.store import sqlite_write
from cmdb.store.base import (
    ApprovalRecord,
    FreezeExceptionRecord,
    RejectedRowsError,
    ReviewRecord,
    StoredChange,
    StoredFreezeWindow,
    StoreError,
    UpsertResult,
)
from cmdb.store.sqlite_rows import dumps, placeholders


def _text(instant: datetime) -> str:
    if instant.tzinfo is None:
        raise ValueError(f"invalid instant {instant.isoformat()}: give a time zone or UTC offset")
    return instant.astimezone(UTC).isoformat()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _stored_change(row: Sequence[str]) -> StoredChange:
    return StoredChange(
        id=row[0],
        state=row[1],
        window_start=_instant(row[2]),
        window_end=_instant(row[3]),
        document=json.loads(row[4]),
    )


def save_changes(
    conn: sqlite3.Connection,
    changes: Sequence[StoredChange],
    freeze_windows: Sequence[StoredFreezeWindow],
    *,
    now: str,
) -> None:
    """Create or replace change records and freeze windows by id."""
    for change in changes:
        conn.execute(
            "INSERT INTO change_record (id, state, window_start, window_end, document, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " state = excluded.state, window_start = excluded.window_start,"
            " window_end = excluded.window_end, document = excluded.document,"
            " updated_at = excluded.updated_at",
            (
                change.id,
                change.state,
                _text(change.window_start),
                _text(change.window_end),
                dumps(change.document),
                now,
                now,
            ),
        )
    for window in freeze_windows:
        conn.execute(
            "INSERT INTO freeze_window (id, document, created_at, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
            (window.id, dumps(window.document), now, now),
        )


def apply_change(
    conn: sqlite3.Connection,
    cis: Sequence[CIInput],
    *,
    change: StoredChange,
    context: ChangeContext,
    freeze_exceptions: Sequence[FreezeExceptionRecord],
    now: str,
) -> UpsertResult:
    """Upsert the CIs strictly, then save the change and its freeze exceptions; raise on a rejected row."""
    outcome = sqlite_write.upsert_cis(conn, cis, context=context, now=now)
    rejected = outcome.result.rejected
    if rejected:
        if len(rejected) == 1 and rejected[0].index in outcome.conflicts:
            raise outcome.conflicts[rejected[0].index]
        raise RejectedRowsError(rejected)
    save_changes(conn, [change], [], now=now)
    save_freeze_exceptions(conn, freeze_exceptions)
    return outcome.result


def get_change(conn: sqlite3.Connection, change_id: str) -> StoredChange | None:
    row = conn.execute(
        "SELECT id, state, window_start, window_end, document FROM change_record WHERE id = ?",
        (change_id,),
    ).fetchone()
    return _stored_change(row) if row else None


def list_changes(conn: sqlite3.Connection, states: Sequence[str]) -> list[StoredChange]:
    where = f" WHERE state IN ({placeholders(len(states))})" if states else ""
    rows = conn.execute(
        f"SELECT id, state, window_start, window_end, document FROM change_record{where}"
        " ORDER BY window_start, id",
        list(states),
    ).fetchall()
    return [_stored_change(row) for row in rows]


def list_freeze_windows(conn: sqlite3.Connection) -> list[StoredFreezeWindow]:
    rows = conn.execute("SELECT id, document FROM freeze_window ORDER BY id").fetchall()
    return [StoredFreezeWindow(id=row[0], document=json.loads(row[1])) for row in rows]


def _require_change(conn: sqlite3.Connection, change_id: str) -> None:
    if conn.execute("SELECT 1 FROM change_record WHERE id = ?", (change_id,)).fetchone() is None:
        raise StoreError(f"change {change_id!r} not found; create the change first")


def save_freeze_exceptions(conn: sqlite3.Connection, exceptions: Sequence[FreezeExceptionRecord]) -> None:
    for exception in exceptions:
        _require_change(conn, exception.change_id)
        conn.execute(
            "INSERT INTO freeze_exception (change_id, window_id, occurrence_start, occurrence_end, reason,"
            " actor, recorded_at, reviewed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                exception.change_id,
                exception.window_id,
                _text(exception.occurrence_start),
                _text(exception.occurrence_end),
                exception.reason,
                exception.actor,
                _text(exception.recorded_at),
                _text(exception.reviewed_at) if exception.reviewed_at else None,
            ),
        )


def save_approval(conn: sqlite3.Connection, approval: ApprovalRecord) -> None:
    _require_change(conn, approval.change_id)
    existing = conn.execute(
        "SELECT actor FROM approval WHERE change_id = ? AND role = ?", (approval.change_id, approval.role)
    ).fetchone()
    if existing is not None:
        raise StoreError(
            f"change {approval.change_id!r} is already approved for role {approval.role!r} by {existing[0]!r}"
        )
    conn.execute(
        "INSERT INTO approval (change_id, role, actor, comment, recorded_at) VALUES (?, ?, ?, ?, ?)",
        (approval.change_id, approval.role, approval.actor, approval.comment, _text(approval.recorded_at)),
    )


def approvals(conn: sqlite3.Connection, change_id: str) -> list[ApprovalRecord]:
    rows = conn.execute(
        "SELECT change_id, role, actor, recorded_at, comment FROM approval WHERE change_id = ? ORDER BY role",
        (change_id,),
    ).fetchall()
    return [
        ApprovalRecord(
            change_id=row[0], role=row[1], actor=row[2], recorded_at=_instant(row[3]), comment=row[4]
        )
        for row in rows
    ]


def freeze_exceptions(conn: sqlite3.Connection, change_id: str | None) -> list[FreezeExceptionRecord]:
    where, params = (" WHERE change_id = ?", [change_id]) if change_id is not None else ("", [])
    rows = conn.execute(
        "SELECT change_id, window_id, occurrence_start, occurrence_end, reason, actor, recorded_at,"
        f" reviewed_at FROM freeze_exception{where} ORDER BY id",
        params,
    ).fetchall()
    return [
        FreezeExceptionRecord(
            change_id=row[0],
            window_id=row[1],
            occurrence_start=_instant(row[2]),
            occurrence_end=_instant(row[3]),
            reason=row[4],
            actor=row[5],
            recorded_at=_instant(row[6]),
            reviewed_at=_instant(row[7]) if row[7] else None,
        )
        for row in rows
    ]


def save_review(conn: sqlite3.Connection, review: ReviewRecord) -> None:
    _require_change(conn, review.change_id)
    recorded = _text(review.recorded_at)
    conn.execute(
        "INSERT INTO post_implementation_review (change_id, actor, outcome, notes, recorded_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (review.change_id, review.actor, review.outcome, review.notes, recorded),
    )
    conn.execute(
        "UPDATE freeze_exception SET reviewed_at = ? WHERE change_id = ? AND reviewed_at IS NULL",
        (recorded, review.change_id),
    )


def reviews(conn: sqlite3.Connection, change_id: str) -> list[ReviewRecord]:
    rows = conn.execute(
        "SELECT change_id, actor, outcome, notes, recorded_at FROM post_implementation_review"
        " WHERE change_id = ? ORDER BY id",
        (change_id,),
    ).fetchall()
    return [
        ReviewRecord(
            change_id=row[0], actor=row[1], outcome=row[2], notes=row[3], recorded_at=_instant(row[4])
        )
        for row in rows
    ]
