"""Raw export and import of the SQLite store's change management and discovery run rows.

Change records, freeze windows, approvals, freeze exceptions, post-implementation reviews and
discovery runs, for ``cmdb.store.sqlite_export``. Each function runs on a connection inside the
caller's transaction. Freeze exceptions and reviews are exported in the order of their row ids,
which is the order they were recorded in, and imported in the order given.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from cmdb.store.export import (
    RawApproval,
    RawBatch,
    RawChange,
    RawDiscoveryRun,
    RawFreezeException,
    RawFreezeWindow,
    RawReview,
)
from cmdb.store.sqlite_rows import chunked, dumps, placeholders


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _optional_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _text(value: datetime) -> str:
    """Return an instant in the store's text form, ``datetime.isoformat`` in UTC."""
    return value.astimezone(UTC).isoformat()


def summary(conn: sqlite3.Connection) -> tuple[dict[str, int], datetime | None]:
    """Return the row count of each kind, and the latest update of a change record or freeze window."""
    counts: dict[str, int] = {}
    for kind, table in (
        ("changes", "change_record"),
        ("approvals", "approval"),
        ("reviews", "post_implementation_review"),
        ("freeze_windows", "freeze_window"),
        ("freeze_exceptions", "freeze_exception"),
        ("discovery_runs", "discovery_run"),
    ):
        (counts[kind],) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    (last,) = conn.execute(
        "SELECT max(updated_at) FROM (SELECT max(updated_at) AS updated_at FROM change_record"
        " UNION ALL SELECT max(updated_at) FROM freeze_window)"
    ).fetchone()
    return counts, _optional_time(last)


def export_changes(conn: sqlite3.Connection, *, after: str | None, limit: int) -> list[RawChange]:
    rows = conn.execute(
        "SELECT id, state, window_start, window_end, document, created_at, updated_at FROM change_record"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (after or "", limit),
    ).fetchall()
    return [
        RawChange(
            id=row[0],
            state=row[1],
            window_start=_time(row[2]),
            window_end=_time(row[3]),
            document=json.loads(row[4]),
            created_at=_time(row[5]),
            updated_at=_time(row[6]),
        )
        for row in rows
    ]


def export_approvals(conn: sqlite3.Connection, change_ids: Sequence[str]) -> list[RawApproval]:
    found: list[RawApproval] = []
    for chunk in chunked(list(change_ids)):
        rows = conn.execute(
            "SELECT change_id, role, actor, comment, recorded_at FROM approval"
            f" WHERE change_id IN ({placeholders(len(chunk))})",
            chunk,
        ).fetchall()
        found.extend(
            RawApproval(
                change_id=row[0], role=row[1], actor=row[2], comment=row[3], recorded_at=_time(row[4])
            )
            for row in rows
        )
    return sorted(found, key=lambda approval: (approval.change_id, approval.role))


def export_reviews(conn: sqlite3.Connection, change_ids: Sequence[str]) -> list[RawReview]:
    found: list[RawReview] = []
    for chunk in chunked(list(change_ids)):
        rows = conn.execute(
            "SELECT change_id, actor, outcome, notes, recorded_at, id FROM post_implementation_review"
            f" WHERE change_id IN ({placeholders(len(chunk))})",
            chunk,
        ).fetchall()
        found.extend(
            RawReview(
                change_id=row[0],
                actor=row[1],
                outcome=row[2],
                notes=row[3],
                recorded_at=_time(row[4]),
                seq=row[5],
            )
            for row in rows
        )
    return sorted(found, key=lambda review: review.seq)


def export_freeze_windows(
    conn: sqlite3.Connection, *, after: str | None, limit: int
) -> list[RawFreezeWindow]:
    rows = conn.execute(
        "SELECT id, document, created_at, updated_at FROM freeze_window WHERE id > ? ORDER BY id LIMIT ?",
        (after or "", limit),
    ).fetchall()
    return [
        RawFreezeWindow(
            id=row[0], document=json.loads(row[1]), created_at=_time(row[2]), updated_at=_time(row[3])
        )
        for row in rows
    ]


def export_freeze_exceptions(
    conn: sqlite3.Connection, *, after: int | None, limit: int
) -> list[RawFreezeException]:
    rows = conn.execute(
        "SELECT change_id, window_id, occurrence_start, occurrence_end, reason, actor, recorded_at,"
        " reviewed_at, id FROM freeze_exception WHERE id > ? ORDER BY id LIMIT ?",
        (after if after is not None else 0, limit),
    ).fetchall()
    return [
        RawFreezeException(
            change_id=row[0],
            window_id=row[1],
            occurrence_start=_time(row[2]),
            occurrence_end=_time(row[3]),
            reason=row[4],
            actor=row[5],
            recorded_at=_time(row[6]),
            reviewed_at=_optional_time(row[7]),
            seq=row[8],
        )
        for row in rows
    ]


def export_discovery_runs(
    conn: sqlite3.Connection, *, after: str | None, limit: int
) -> list[RawDiscoveryRun]:
    rows = conn.execute(
        "SELECT id, started_at, document FROM discovery_run WHERE id > ? ORDER BY id LIMIT ?",
        (after or "", limit),
    ).fetchall()
    return [RawDiscoveryRun(id=row[0], started_at=_time(row[1]), document=json.loads(row[2])) for row in rows]


def import_change_management(conn: sqlite3.Connection, batch: RawBatch) -> None:
    """Insert the batch's change records, approvals, reviews, freeze windows and exceptions, and runs.

    The foreign keys of approvals, reviews and freeze exceptions reject a change id the store does
    not hold with sqlite3.IntegrityError.
    """
    conn.executemany(
        "INSERT INTO change_record (id, state, window_start, window_end, document, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                change.id,
                change.state,
                _text(change.window_start),
                _text(change.window_end),
                dumps(change.document),
                _text(change.created_at),
                _text(change.updated_at),
            )
            for change in batch.changes
        ],
    )
    conn.executemany(
        "INSERT INTO approval (change_id, role, actor, comment, recorded_at) VALUES (?, ?, ?, ?, ?)",
        [(a.change_id, a.role, a.actor, a.comment, _text(a.recorded_at)) for a in batch.approvals],
    )
    # Row ids are assigned in insertion order, which keeps the order the reviews were recorded in.
    conn.executemany(
        "INSERT INTO post_implementation_review (change_id, actor, outcome, notes, recorded_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [(r.change_id, r.actor, r.outcome, r.notes, _text(r.recorded_at)) for r in batch.reviews],
    )
    conn.executemany(
        "INSERT INTO freeze_window (id, document, created_at, updated_at) VALUES (?, ?, ?, ?)",
        [
            (window.id, dumps(window.document), _text(window.created_at), _text(window.updated_at))
            for window in batch.freeze_windows
        ],
    )
    conn.executemany(
        "INSERT INTO freeze_exception (change_id, window_id, occurrence_start, occurrence_end, reason,"
        " actor, recorded_at, reviewed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                e.change_id,
                e.window_id,
                _text(e.occurrence_start),
                _text(e.occurrence_end),
                e.reason,
                e.actor,
                _text(e.recorded_at),
                _text(e.reviewed_at) if e.reviewed_at is not None else None,
            )
            for e in batch.freeze_exceptions
        ],
    )
    conn.executemany(
        "INSERT INTO discovery_run (id, started_at, document) VALUES (?, ?, ?)",
        [(run.id, _text(run.started_at), dumps(run.document)) for run in batch.discovery_runs],
    )
