"""Implementing a change and rolling it back as new CI versions tagged with the change id."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cmdb.changes.analysis import (
    APPLIED_STATES,
    RollbackAssessment,
    assess_change,
    assess_rollback,
    load_change,
)
from cmdb.changes.conflicts import Conflicts
from cmdb.changes.documents import to_stored_change
from cmdb.changes.errors import ChangeNotReadyError, FreezeConflictError, RollbackBlockedError
from cmdb.changes.models import ChangeRecord, ChangeState
from cmdb.changes.service import ci_input, is_emergency, merged_attributes, set_state
from cmdb.model import ChangeContext, CIInput, Origin
from cmdb.store.base import CINotFoundError, FreezeExceptionRecord, GraphStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImplementResult:
    """An implemented change, the conflicts of its actual window and the freeze exceptions recorded."""

    change: ChangeRecord
    conflicts: Conflicts
    freeze_exceptions: list[FreezeExceptionRecord]


@dataclass(frozen=True, slots=True)
class RollbackResult:
    """A rolled-back change and the assessment it was rolled back on."""

    change: ChangeRecord
    assessment: RollbackAssessment
    forced: bool


def _instant(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError(f"invalid instant {at.isoformat()}: give a time zone or UTC offset")
    return at.astimezone(UTC)


def _context(change_id: str, actor: str, request_id: str | None) -> ChangeContext:
    return ChangeContext(
        actor=actor, origin=Origin.CHANGE, request_id=request_id or uuid.uuid4().hex, change_id=change_id
    )


def implement_change(
    *,
    store: GraphStore,
    change_id: str,
    actor: str,
    at: datetime | None = None,
    reason: str | None = None,
    request_id: str | None = None,
) -> ImplementResult:
    """Apply a scheduled, fully approved change's values at ``at`` (now when None).

    The change runs from ``at`` for as long as its window. A hard freeze it
    would break raises FreezeConflictError, unless the change is an emergency
    and ``reason`` is given: then each such occurrence is recorded as a freeze
    exception for post-event review. The values before are kept in the change
    record for its rollback. Raise ChangeNotReadyError for a change that is not
    scheduled or lacks approvals.
    """
    instant = _instant(at)
    change_window = load_change(store, change_id).window()
    assessment = assess_change(store=store, change_id=change_id, window=change_window.shifted_to(instant))
    change = assessment.change
    problems: list[str] = []
    if change.state is not ChangeState.SCHEDULED:
        problems.append(f"the change is {change.state.value}, not scheduled")
    if assessment.missing_approvals:
        problems.append(f"approvals missing from: {', '.join(assessment.missing_approvals)}")
    if problems:
        raise ChangeNotReadyError(change_id, problems, assessment.missing_approvals)

    hard_freezes = [conflict for conflict in assessment.conflicts.freezes if conflict.hard]
    explanation = (reason or "").strip()
    exceptions: list[FreezeExceptionRecord] = []
    if hard_freezes:
        names = ", ".join(sorted({conflict.window_id for conflict in hard_freezes}))
        if not is_emergency(change):
            raise FreezeConflictError(
                change_id,
                assessment.conflicts,
                f"change {change_id!r} would break the hard freeze {names}; implement it in its next free"
                " slot, or as an emergency change with a reason",
            )
        if not explanation:
            raise FreezeConflictError(
                change_id,
                assessment.conflicts,
                f"emergency change {change_id!r} would break the hard freeze {names}; give the emergency"
                " reason to record a freeze exception",
            )
        exceptions = [
            FreezeExceptionRecord(
                change_id=change_id,
                window_id=conflict.window_id,
                occurrence_start=conflict.occurrence.start,
                occurrence_end=conflict.occurrence.end,
                reason=explanation,
                actor=actor,
                recorded_at=datetime.now(UTC),
            )
            for conflict in hard_freezes
        ]

    records = store.get_cis(change.touched_keys())
    cis: list[CIInput] = []
    previous: dict[str, dict[str, Any]] = {}
    applied: dict[str, dict[str, Any]] = {}
    for touch in change.touches:
        record = records.get(touch.ci)
        if record is None:
            raise CINotFoundError(touch.ci)
        previous[touch.ci] = {name: record.attributes.get(name) for name in touch.set_values}
        applied[touch.ci] = dict(touch.set_values)
        cis.append(ci_input(record, merged_attributes(record.attributes, touch.set_values)))
    implemented = set_state(
        change,
        ChangeState.IMPLEMENTED,
        implementation={
            "at": instant.isoformat(),
            "actor": actor,
            "set": applied,
            "previous": previous,
            "freeze_exception_reason": explanation if exceptions else None,
        },
    )
    store.apply_change(
        cis,
        change=to_stored_change(implemented),
        context=_context(change_id, actor, request_id),
        freeze_exceptions=exceptions,
    )
    logger.info(
        "implemented change %s by %s on %d CIs, %d freeze exceptions",
        change_id,
        actor,
        len(cis),
        len(exceptions),
    )
    return ImplementResult(change=implemented, conflicts=assessment.conflicts, freeze_exceptions=exceptions)


def rollback_change(
    *,
    store: GraphStore,
    change_id: str,
    actor: str,
    at: datetime | None = None,
    force: bool = False,
    reason: str | None = None,
    request_id: str | None = None,
) -> RollbackResult:
    """Revert each value an implemented change set to the value before it, in the rollback order.

    A rollback with blockers (a later change on the same CI, or drift) raises
    RollbackBlockedError unless ``force`` is set and a ``reason`` given; both are
    recorded in the change. Freeze conflicts of the rollback are reported, not enforced.
    """
    instant = _instant(at)
    assessment = assess_rollback(store=store, change_id=change_id, at=instant)
    change = assessment.change
    if change.state not in APPLIED_STATES:
        raise ChangeNotReadyError(
            change_id, [f"the change is {change.state.value}; only an implemented change is rolled back"], []
        )
    plan = assessment.plan
    explanation = (reason or "").strip()
    if plan.blocked and not (force and explanation):
        raise RollbackBlockedError(change_id, plan)

    records = store.get_cis(plan.order)
    reverted: dict[str, dict[str, Any]] = {}
    for item in plan.items:
        reverted.setdefault(item.ci, {})[item.attribute] = item.previous
    cis: list[CIInput] = []
    for key in plan.order:
        record = records.get(key)
        if record is None:
            raise CINotFoundError(key)
        cis.append(ci_input(record, merged_attributes(record.attributes, reverted.get(key, {}))))
    rolled_back = set_state(
        change,
        ChangeState.ROLLED_BACK,
        rollback={
            "at": instant.isoformat(),
            "actor": actor,
            "forced": bool(plan.blocked),
            "reason": explanation or None,
            "blockers": [blocker.to_dict() for blocker in plan.blockers],
        },
    )
    store.apply_change(
        cis, change=to_stored_change(rolled_back), context=_context(change_id, actor, request_id)
    )
    logger.info(
        "rolled back change %s by %s on %d CIs (forced: %s)", change_id, actor, len(cis), plan.blocked
    )
    return RollbackResult(change=rolled_back, assessment=assessment, forced=plan.blocked)
