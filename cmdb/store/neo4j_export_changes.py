"""Raw export and import of the Neo4j store's change management and discovery run nodes.

``:ChangeRecord``, ``:FreezeWindow``, ``:Approval``, ``:FreezeException``, ``:Review`` and
``:DiscoveryRun`` nodes (their properties are listed in ``cmdb.store.neo4j_changes`` and
``cmdb.store.neo4j_discovery``), for ``cmdb.store.neo4j_export``. Each function is the body of a
managed transaction or runs inside one. Imported freeze exceptions and reviews take their ``seq``
from the store's ``(:Sequence {name, value})`` counters, as the store's own writes do, so later
writes continue after them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from neo4j import ManagedTransaction

from cmdb.store.base import StoreError
from cmdb.store.export import (
    RawApproval,
    RawBatch,
    RawChange,
    RawDiscoveryRun,
    RawFreezeException,
    RawFreezeWindow,
    RawReview,
)
from cmdb.store.neo4j_rows import dumps, native_time
from cmdb.store.neo4j_write import LOCK

_SUMMARY = """
CALL () { MATCH (c:ChangeRecord) RETURN count(c) AS changes, max(c.updated_at) AS last_change }
CALL () { MATCH (w:FreezeWindow) RETURN count(w) AS freeze_windows, max(w.updated_at) AS last_window }
CALL () { MATCH (a:Approval) RETURN count(a) AS approvals }
CALL () { MATCH (r:Review) RETURN count(r) AS reviews }
CALL () { MATCH (e:FreezeException) RETURN count(e) AS freeze_exceptions }
CALL () { MATCH (d:DiscoveryRun) RETURN count(d) AS discovery_runs }
RETURN changes, freeze_windows, approvals, reviews, freeze_exceptions, discovery_runs,
       last_change, last_window
"""

# Reserve size($rows) numbers of the sequence $name, then create one node per row, numbered in
# the order of $rows. The lock makes a concurrent writer wait, so no number is handed out twice.
_CREATE_NUMBERED = f"""
MERGE (s:Sequence {{{{name: $name}}}})
ON CREATE SET s.value = 0
{LOCK.format("s")}
WITH s
SET s.value = s.value + size($rows)
WITH s.value - size($rows) AS last
UNWIND range(0, size($rows) - 1) AS i
CREATE (n:{{label}})
SET n = $rows[i], n.seq = last + 1 + i
"""

_MISSING_CHANGES = """
UNWIND $ids AS id
OPTIONAL MATCH (c:ChangeRecord {id: id})
WITH id WHERE c IS NULL
RETURN collect(id) AS missing
"""


def _time(value: Any) -> datetime:
    native = native_time(value)
    if native is None:
        raise StoreError(
            "a stored change, approval, review or run has no timestamp; the Neo4j store is damaged"
        )
    return native


def _utc(value: datetime) -> datetime:
    """Return ``value`` in UTC, as the store's own writes keep instants."""
    return value.astimezone(UTC)


def _latest(*values: Any) -> datetime | None:
    instants = [native for native in map(native_time, values) if native is not None]
    return max(instants) if instants else None


def summary(tx: ManagedTransaction) -> tuple[dict[str, int], datetime | None]:
    """Return the node count of each kind, and the latest update of a change record or freeze window."""
    row = tx.run(_SUMMARY).single()
    if row is None:
        raise StoreError("Neo4j returned no row for the change management summary")
    kinds = ("changes", "approvals", "reviews", "freeze_windows", "freeze_exceptions", "discovery_runs")
    return {kind: row[kind] for kind in kinds}, _latest(row["last_change"], row["last_window"])


def _change(node: Mapping[str, Any]) -> RawChange:
    return RawChange(
        id=node["id"],
        state=node["state"],
        window_start=_time(node["window_start"]),
        window_end=_time(node["window_end"]),
        document=json.loads(node["document_json"]),
        created_at=_time(node["created_at"]),
        updated_at=_time(node["updated_at"]),
    )


def export_changes(tx: ManagedTransaction, after: str | None, limit: int) -> list[RawChange]:
    rows = tx.run(
        "MATCH (c:ChangeRecord) WHERE c.id > $after RETURN properties(c) AS c ORDER BY c.id LIMIT $limit",
        after=after or "",
        limit=limit,
    )
    return [_change(row["c"]) for row in rows]


def export_approvals(tx: ManagedTransaction, change_ids: Sequence[str]) -> list[RawApproval]:
    rows = tx.run(
        "UNWIND $ids AS id MATCH (a:Approval {change_id: id}) RETURN properties(a) AS a", ids=list(change_ids)
    )
    found = [
        RawApproval(
            change_id=node["change_id"],
            role=node["role"],
            actor=node["actor"],
            comment=node["comment"],
            recorded_at=_time(node["recorded_at"]),
        )
        for node in (row["a"] for row in rows)
    ]
    # Sorted in Python, so text orders by code point as SQLite's binary collation orders it.
    return sorted(found, key=lambda approval: (approval.change_id, approval.role))


def export_reviews(tx: ManagedTransaction, change_ids: Sequence[str]) -> list[RawReview]:
    rows = tx.run(
        "UNWIND $ids AS id MATCH (r:Review {change_id: id}) RETURN properties(r) AS r ORDER BY r.seq",
        ids=list(change_ids),
    )
    return [
        RawReview(
            change_id=node["change_id"],
            actor=node["actor"],
            outcome=node["outcome"],
            notes=node["notes"],
            recorded_at=_time(node["recorded_at"]),
            seq=node["seq"],
        )
        for node in (row["r"] for row in rows)
    ]


def export_freeze_windows(tx: ManagedTransaction, after: str | None, limit: int) -> list[RawFreezeWindow]:
    rows = tx.run(
        "MATCH (w:FreezeWindow) WHERE w.id > $after RETURN properties(w) AS w ORDER BY w.id LIMIT $limit",
        after=after or "",
        limit=limit,
    )
    return [
        RawFreezeWindow(
            id=node["id"],
            document=json.loads(node["document_json"]),
            created_at=_time(node["created_at"]),
            updated_at=_time(node["updated_at"]),
        )
        for node in (row["w"] for row in rows)
    ]


def export_freeze_exceptions(
    tx: ManagedTransaction, after: int | None, limit: int
) -> list[RawFreezeException]:
    rows = tx.run(
        "MATCH (e:FreezeException) WHERE e.seq > $after"
        " RETURN properties(e) AS e ORDER BY e.seq LIMIT $limit",
        after=after if after is not None else 0,
        limit=limit,
    )
    return [
        RawFreezeException(
            change_id=node["change_id"],
            window_id=node["window_id"],
            occurrence_start=_time(node["occurrence_start"]),
            occurrence_end=_time(node["occurrence_end"]),
            reason=node["reason"],
            actor=node["actor"],
            recorded_at=_time(node["recorded_at"]),
            reviewed_at=native_time(node.get("reviewed_at")),
            seq=node["seq"],
        )
        for node in (row["e"] for row in rows)
    ]


def export_discovery_runs(tx: ManagedTransaction, after: str | None, limit: int) -> list[RawDiscoveryRun]:
    rows = tx.run(
        "MATCH (d:DiscoveryRun) WHERE d.id > $after"
        " RETURN d.id AS id, d.started_at AS started_at, d.document_json AS document_json"
        " ORDER BY id LIMIT $limit",
        after=after or "",
        limit=limit,
    )
    return [
        RawDiscoveryRun(
            id=row["id"], started_at=_time(row["started_at"]), document=json.loads(row["document_json"])
        )
        for row in rows
    ]


def _check_changes(tx: ManagedTransaction, batch: RawBatch) -> None:
    """Raise StoreError when an approval, review or freeze exception names a change not stored."""
    named = {
        row.change_id for rows in (batch.approvals, batch.reviews, batch.freeze_exceptions) for row in rows
    }
    if not named:
        return
    row = tx.run(_MISSING_CHANGES, ids=sorted(named)).single()
    missing = sorted(row["missing"]) if row is not None else []
    if missing:
        raise StoreError(
            f"change {missing[0]!r} not found in the target; import change records before their"
            " approvals, reviews and freeze exceptions"
        )


def _create_numbered(tx: ManagedTransaction, label: str, sequence: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        tx.run(_CREATE_NUMBERED.format(label=label), name=sequence, rows=rows).consume()


def import_change_management(tx: ManagedTransaction, batch: RawBatch) -> None:
    """Create the batch's change records, approvals, reviews, freeze windows and exceptions, and runs.

    A node that is already stored breaks a uniqueness constraint, and the driver raises
    ConstraintError. Properties that are None are left out, as the store's writes leave them out.
    """
    if batch.changes:
        changes = [
            {
                "id": change.id,
                "state": change.state,
                "window_start": _utc(change.window_start),
                "window_end": _utc(change.window_end),
                "document_json": dumps(change.document),
                "created_at": _utc(change.created_at),
                "updated_at": _utc(change.updated_at),
            }
            for change in batch.changes
        ]
        tx.run("UNWIND $rows AS row CREATE (c:ChangeRecord) SET c = row", rows=changes).consume()
    _check_changes(tx, batch)
    if batch.approvals:
        approvals = [
            {
                "change_id": approval.change_id,
                "role": approval.role,
                "actor": approval.actor,
                "comment": approval.comment,
                "recorded_at": _utc(approval.recorded_at),
            }
            for approval in batch.approvals
        ]
        tx.run("UNWIND $rows AS row CREATE (a:Approval) SET a = row", rows=approvals).consume()
    reviews = [
        {
            "change_id": review.change_id,
            "actor": review.actor,
            "outcome": review.outcome,
            "notes": review.notes,
            "recorded_at": _utc(review.recorded_at),
        }
        for review in batch.reviews
    ]
    _create_numbered(tx, "Review", "review", reviews)
    if batch.freeze_windows:
        windows = [
            {
                "id": window.id,
                "document_json": dumps(window.document),
                "created_at": _utc(window.created_at),
                "updated_at": _utc(window.updated_at),
            }
            for window in batch.freeze_windows
        ]
        tx.run("UNWIND $rows AS row CREATE (w:FreezeWindow) SET w = row", rows=windows).consume()
    exceptions = [
        {
            name: value
            for name, value in {
                "change_id": exception.change_id,
                "window_id": exception.window_id,
                "occurrence_start": _utc(exception.occurrence_start),
                "occurrence_end": _utc(exception.occurrence_end),
                "reason": exception.reason,
                "actor": exception.actor,
                "recorded_at": _utc(exception.recorded_at),
                "reviewed_at": _utc(exception.reviewed_at) if exception.reviewed_at else None,
            }.items()
            if value is not None
        }
        for exception in batch.freeze_exceptions
    ]
    _create_numbered(tx, "FreezeException", "freeze_exception", exceptions)
    if batch.discovery_runs:
        runs = [
            {"id": run.id, "started_at": _utc(run.started_at), "document_json": dumps(run.document)}
            for run in batch.discovery_runs
        ]
        tx.run("UNWIND $rows AS row CREATE (d:DiscoveryRun) SET d = row", rows=runs).consume()
