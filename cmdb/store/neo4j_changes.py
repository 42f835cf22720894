"""Change management in the Neo4j store: change records, freeze windows, approvals and reviews.

Each function is the body of one managed transaction and may run more than once. Instants are
stored as Neo4j DateTime values in UTC and returned in UTC. Nodes (each pattern as Cypher):

- ``(:ChangeRecord {id, state, window_start, window_end, document_json, created_at, updated_at})``
- ``(:FreezeWindow {id, document_json, created_at, updated_at})``
- ``(:Approval {change_id, role, actor, comment, recorded_at})``, one per change and role.
- ``(:FreezeException {seq, change_id, window_id, occurrence_start, occurrence_end, reason, actor,
  recorded_at, reviewed_at})`` and ``(:Review {seq, change_id, actor, outcome, notes, recorded_at})``:
  ``seq`` comes from ``(:Sequence {name, value})`` and orders them as they were recorded.

Lists ordered by text are sorted in Python, so they order by code point as SQLite's binary
collation does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from neo4j import ManagedTransaction

from cmdb.model import ChangeContext, CIInput
from cmdb.store import neo4j_write
from cmdb.store.base import (
    ApprovalRecord,
    FreezeExceptionRecord,
    ReviewRecord,
    StoredChange,
    StoredFreezeWindow,
    StoreError,
    UpsertResult,
)
from cmdb.store.neo4j_history import utc_instant
from cmdb.store.neo4j_rows import dumps, native_time
from cmdb.store.neo4j_write import LOCK

# Every MERGE key and every lookup key has a uniqueness constraint, which also indexes it.
SCHEMA_STATEMENTS = (
    "CREATE CONSTRAINT change_record_id IF NOT EXISTS FOR (c:ChangeRecord) REQUIRE c.id IS UNIQUE",
    "CREATE CONSTRAINT freeze_window_id IF NOT EXISTS FOR (w:FreezeWindow) REQUIRE w.id IS UNIQUE",
    "CREATE CONSTRAINT approval_role IF NOT EXISTS FOR (a:Approval) REQUIRE (a.change_id, a.role) IS UNIQUE",
    "CREATE CONSTRAINT freeze_exception_seq IF NOT EXISTS FOR (e:FreezeException) REQUIRE e.seq IS UNIQUE",
    "CREATE CONSTRAINT review_seq IF NOT EXISTS FOR (r:Review) REQUIRE r.seq IS UNIQUE",
    "CREATE CONSTRAINT sequence_name IF NOT EXISTS FOR (s:Sequence) REQUIRE s.name IS UNIQUE",
    "CREATE INDEX freeze_exception_change IF NOT EXISTS FOR (e:FreezeException) ON (e.change_id)",
    "CREATE INDEX review_change IF NOT EXISTS FOR (r:Review) ON (r.change_id)",
)

_SAVE_CHANGES = """
UNWIND $rows AS row
MERGE (c:ChangeRecord {id: row.id})
ON CREATE SET c.created_at = $now
SET c += row, c.updated_at = $now
"""

_SAVE_FREEZE_WINDOWS = """
UNWIND $rows AS row
MERGE (w:FreezeWindow {id: row.id})
ON CREATE SET w.created_at = $now
SET w += row, w.updated_at = $now
"""

_CHANGE_PROJECTION = "c {.id, .state, .window_start, .window_end, .document_json}"

# The lock makes concurrent writers take numbers one after another, so none is handed out twice.
_NEXT_SEQUENCE = f"""
MERGE (s:Sequence {{name: $name}})
ON CREATE SET s.value = 0
{LOCK.format("s")}
WITH s
SET s.value = s.value + $count
RETURN s.value - $count AS last
"""


def _reserve_sequence(tx: ManagedTransaction, name: str, count: int) -> int:
    """Reserve ``count`` numbers of the sequence ``name`` and return the number before the first."""
    row = tx.run(_NEXT_SEQUENCE, name=name, count=count).single()
    if row is None:
        raise StoreError(f"Neo4j returned no value for the sequence {name!r}")
    last: int = row["last"]
    return last


def _instant(value: Any) -> datetime:
    native = native_time(value)
    if native is None:
        raise StoreError("a stored change, approval or review has no timestamp; the Neo4j store is damaged")
    return native.astimezone(UTC)


def _stored_change(projection: Mapping[str, Any]) -> StoredChange:
    return StoredChange(
        id=projection["id"],
        state=projection["state"],
        window_start=_instant(projection["window_start"]),
        window_end=_instant(projection["window_end"]),
        document=json.loads(projection["document_json"]),
    )


def save_changes(
    tx: ManagedTransaction,
    changes: Sequence[StoredChange],
    freeze_windows: Sequence[StoredFreezeWindow],
    *,
    now: datetime,
) -> None:
    """Create or replace change records and freeze windows by id."""
    change_rows = [
        {
            "id": change.id,
            "state": change.state,
            "window_start": utc_instant(change.window_start),
            "window_end": utc_instant(change.window_end),
            "document_json": dumps(change.document),
        }
        for change in changes
    ]
    window_rows = [{"id": window.id, "document_json": dumps(window.document)} for window in freeze_windows]
    if change_rows:
        tx.run(_SAVE_CHANGES, rows=change_rows, now=now).consume()
    if window_rows:
        tx.run(_SAVE_FREEZE_WINDOWS, rows=window_rows, now=now).consume()


def apply_change(
    tx: ManagedTransaction,
    cis: Sequence[CIInput],
    *,
    change: StoredChange,
    context: ChangeContext,
    freeze_exceptions: Sequence[FreezeExceptionRecord],
    now: datetime,
) -> UpsertResult:
    """Upsert the CIs strictly, then save the change and its freeze exceptions.

    A rejected row raises, so the transaction rolls back and nothing is written.
    """
    outcome = neo4j_write.upsert_cis(tx, cis, context=context, now=now, strict=True)
    save_changes(tx, [change], [], now=now)
    save_freeze_exceptions(tx, freeze_exceptions)
    return outcome.result


def get_change(tx: ManagedTransaction, change_id: str) -> StoredChange | None:
    row = tx.run(
        f"MATCH (c:ChangeRecord {{id: $id}}) RETURN {_CHANGE_PROJECTION} AS change", id=change_id
    ).single()
    return _stored_change(row["change"]) if row is not None else None


def list_changes(tx: ManagedTransaction, states: Sequence[str]) -> list[StoredChange]:
    where = "WHERE c.state IN $states" if states else ""
    row = tx.run(
        f"MATCH (c:ChangeRecord) {where} RETURN collect({_CHANGE_PROJECTION}) AS changes",
        states=list(states),
    ).single()
    changes = [_stored_change(p) for p in row["changes"]] if row is not None else []
    return sorted(changes, key=lambda c: (c.window_start, c.id))


def list_freeze_windows(tx: ManagedTransaction) -> list[StoredFreezeWindow]:
    row = tx.run("MATCH (w:FreezeWindow) RETURN collect(w {.id, .document_json}) AS windows").single()
    projections = row["windows"] if row is not None else []
    windows = [StoredFreezeWindow(id=p["id"], document=json.loads(p["document_json"])) for p in projections]
    return sorted(windows, key=lambda w: w.id)


def _require_change(tx: ManagedTransaction, change_id: str) -> None:
    if tx.run("MATCH (c:ChangeRecord {id: $id}) RETURN c.id", id=change_id).single() is None:
        raise StoreError(f"change {change_id!r} not found; create the change first")


def save_freeze_exceptions(tx: ManagedTransaction, exceptions: Sequence[FreezeExceptionRecord]) -> None:
    if not exceptions:
        return
    for change_id in sorted({exception.change_id for exception in exceptions}):
        _require_change(tx, change_id)
    rows = [
        {
            "change_id": exception.change_id,
            "window_id": exception.window_id,
            "occurrence_start": utc_instant(exception.occurrence_start),
            "occurrence_end": utc_instant(exception.occurrence_end),
            "reason": exception.reason,
            "actor": exception.actor,
            "recorded_at": utc_instant(exception.recorded_at),
            "reviewed_at": utc_instant(exception.reviewed_at) if exception.reviewed_at else None,
        }
        for exception in exceptions
    ]
    first = _reserve_sequence(tx, "freeze_exception", len(rows)) + 1
    tx.run(
        "UNWIND range(0, size($rows) - 1) AS i"
        " CREATE (e:FreezeException) SET e = $rows[i], e.seq = $first + i",
        rows=rows,
        first=first,
    ).consume()


def save_approval(tx: ManagedTransaction, approval: ApprovalRecord) -> None:
    _require_change(tx, approval.change_id)
    existing = tx.run(
        "MATCH (a:Approval {change_id: $change_id, role: $role}) RETURN a.actor AS actor",
        change_id=approval.change_id,
        role=approval.role,
    ).single()
    if existing is not None:
        raise StoreError(
            f"change {approval.change_id!r} is already approved for role {approval.role!r}"
            f" by {existing['actor']!r}"
        )
    tx.run(
        "CREATE (a:Approval) SET a = $row",
        row={
            "change_id": approval.change_id,
            "role": approval.role,
            "actor": approval.actor,
            "comment": approval.comment,
            "recorded_at": utc_instant(approval.recorded_at),
        },
    ).consume()


def approvals(tx: ManagedTransaction, change_id: str) -> list[ApprovalRecord]:
    row = tx.run(
        "MATCH (a:Approval {change_id: $change_id})"
        " RETURN collect(a {.change_id, .role, .actor, .comment, .recorded_at}) AS approvals",
        change_id=change_id,
    ).single()
    projections = row["approvals"] if row is not None else []
    found = [
        ApprovalRecord(
            change_id=p["change_id"],
            role=p["role"],
            actor=p["actor"],
            recorded_at=_instant(p["recorded_at"]),
            comment=p["comment"],
        )
        for p in projections
    ]
    return sorted(found, key=lambda a: a.role)


def freeze_exceptions(tx: ManagedTransaction, change_id: str | None) -> list[FreezeExceptionRecord]:
    where = "WHERE e.change_id = $change_id" if change_id is not None else ""
    row = tx.run(
        f"MATCH (e:FreezeException) {where}"
        " WITH e ORDER BY e.seq RETURN collect(properties(e)) AS exceptions",
        change_id=change_id,
    ).single()
    projections = row["exceptions"] if row is not None else []
    return [
        FreezeExceptionRecord(
            change_id=p["change_id"],
            window_id=p["window_id"],
            occurrence_start=_instant(p["occurrence_start"]),
            occurrence_end=_instant(p["occurrence_end"]),
            reason=p["reason"],
            actor=p["actor"],
            recorded_at=_instant(p["recorded_at"]),
            reviewed_at=_instant(p["reviewed_at"]) if p.get("reviewed_at") is not None else None,
        )
        for p in projections
    ]


def save_review(tx: ManagedTransaction, review: ReviewRecord) -> None:
    _require_change(tx, review.change_id)
    recorded = utc_instant(review.recorded_at)
    seq = _reserve_sequence(tx, "review", 1) + 1
    tx.run(
        "CREATE (r:Review) SET r = $row",
        row={
            "seq": seq,
            "change_id": review.change_id,
            "actor": review.actor,
            "outcome": review.outcome,
            "notes": review.notes,
            "recorded_at": recorded,
        },
    ).consume()
    tx.run(
        "MATCH (e:FreezeException {change_id: $change_id}) WHERE e.reviewed_at IS NULL"
        " SET e.reviewed_at = $recorded",
        change_id=review.change_id,
        recorded=recorded,
    ).consume()


def reviews(tx: ManagedTransaction, change_id: str) -> list[ReviewRecord]:
    row = tx.run(
        "MATCH (r:Review {change_id: $change_id})"
        " WITH r ORDER BY r.seq RETURN collect(properties(r)) AS reviews",
        change_id=change_id,
    ).single()
    projections = row["reviews"] if row is not None else []
    return [
        ReviewRecord(
            change_id=p["change_id"],
            actor=p["actor"],
            outcome=p["outcome"],
            notes=p["notes"],
            recorded_at=_instant(p["recorded_at"]),
        )
        for p in projections
    ]
