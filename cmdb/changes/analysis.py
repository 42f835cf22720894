"""Blast radius, conflicts, next free slot, approvals and rollback scope of stored changes.

The pure rules of this package applied to what a store holds: the blast radius
comes from the impact engine with the change's touched CIs as PLANNED_OUTAGE roots.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cmdb.changes.approvals import TouchedCI, needs_post_implementation_review, required_approvals
from cmdb.changes.clock import Interval, zone
from cmdb.changes.conflicts import BlastRadius, Conflicts, ScheduledChange, find_conflicts, next_free_slot
from cmdb.changes.documents import from_stored_change, from_stored_freeze_window
from cmdb.changes.errors import ChangeNotFoundError
from cmdb.changes.freeze import FreezeWindow
from cmdb.changes.models import ChangeRecord, ChangeState
from cmdb.changes.radius import blast_radius
from cmdb.changes.rollback import LaterChange, RollbackPlan, plan_rollback
from cmdb.impact import ImpactReport, ImpactRequest, Mode, PriorityMatrix, propagate, summarize
from cmdb.model import Direction
from cmdb.store.base import ApprovalRecord, CINotFoundError, GraphStore

logger = logging.getLogger(__name__)

# States in which a change has set its values and may block the rollback of an earlier one.
APPLIED_STATES = frozenset({ChangeState.IMPLEMENTED, ChangeState.CLOSED})


@dataclass(frozen=True, slots=True)
class ChangeImpact:
    """The impact report of a set of PLANNED_OUTAGE roots and the blast radius derived from it."""

    report: ImpactReport
    radius: BlastRadius


@dataclass(frozen=True, slots=True)
class ChangeAssessment:
    """Assessment of a change: what a change manager needs to decide on it."""

    change: ChangeRecord
    window: Interval
    impact: ChangeImpact
    conflicts: Conflicts
    next_free_slot: Interval | None
    required_approvals: list[str]
    approvals: list[ApprovalRecord]
    post_implementation_review: bool

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.change.time_zone)

    @property
    def missing_approvals(self) -> list[str]:
        granted = {approval.role for approval in self.approvals}
        return [role for role in self.required_approvals if role not in granted]

    def to_expected_shape(self) -> dict[str, Any]:
        """Return the answer in the shape of the ``expected`` entries of a changes file.

        ``next_free_slot`` is given only when a hard conflict moves the change, and
        ``post_implementation_review`` only when the change needs one.
        """
        shape: dict[str, Any] = {
            "conflicts": self.conflicts.to_list(self.tz),
            "required_approvals": list(self.required_approvals),
        }
        if self.conflicts.hard and self.next_free_slot is not None:
            shape["next_free_slot"] = self.next_free_slot.as_pair(self.tz)
        if self.post_implementation_review:
            shape["post_implementation_review"] = True
        return shape


@dataclass(frozen=True, slots=True)
class RollbackAssessment:
    """The rollback scope of an implemented change and what rolling it back at ``window`` would do."""

    change: ChangeRecord
    plan: RollbackPlan
    window: Interval
    impact: ChangeImpact | None
    conflicts: Conflicts

    def to_dict(self) -> dict[str, Any]:
        tz = zone(self.change.time_zone)
        document = self.plan.to_dict()
        document["window"] = self.window.as_pair(tz)
        document["conflicts"] = self.conflicts.to_list(tz)
        return document


def load_change(store: GraphStore, change_id: str) -> ChangeRecord:
    stored = store.get_change(change_id)
    if stored is None:
        raise ChangeNotFoundError(change_id)
    return from_stored_change(stored)


def load_freeze_windows(store: GraphStore) -> list[FreezeWindow]:
    return [from_stored_freeze_window(stored) for stored in store.list_freeze_windows()]


def change_impact(
    *, store: GraphStore, keys: Iterable[str], matrix: PriorityMatrix | None = None
) -> ChangeImpact:
    """Run the impact engine with ``keys`` as PLANNED_OUTAGE roots; raise CINotFoundError for a missing CI."""
    roots = sorted(set(keys))
    found = store.get_cis(roots)
    for key in roots:
        if key not in found:
            raise CINotFoundError(key)
    request = ImpactRequest(roots=dict.fromkeys(roots, Mode.PLANNED_OUTAGE))
    closure = store.impact_closure(roots)
    propagation = propagate(closure, request)
    context = store.impact_context(propagation.reached)
    report = summarize(
        request=request,
        closure=closure,
        propagation=propagation,
        context=context,
        matrix=matrix or PriorityMatrix(),
    )
    states = {key: propagation.states[key] for key in propagation.reached}
    return ChangeImpact(
        report=report, radius=blast_radius(states=states, nodes=closure.nodes, context=context)
    )


def scheduled_changes(store: GraphStore, *, excluding: str) -> list[ScheduledChange]:
    """Return every other change in state scheduled with the CIs its blast radius breaks."""
    scheduled: list[ScheduledChange] = []
    for stored in store.list_changes(states=[ChangeState.SCHEDULED.value]):
        if stored.id == excluding:
            continue
        other = from_stored_change(stored)
        broken = change_impact(store=store, keys=other.touched_keys()).radius.broken()
        scheduled.append(ScheduledChange(other.id, other.window(), frozenset(broken)))
    return scheduled


def required_roles(store: GraphStore, change: ChangeRecord, impact: ChangeImpact) -> list[str]:
    """Return the roles that must approve ``change``, from the touched CIs and the impact level."""
    records = store.get_cis(change.touched_keys())
    touched = [
        TouchedCI(key, records[key].ci_class, records[key].attributes)
        for key in change.touched_keys()
        if key in records
    ]
    return required_approvals(
        change_type=change.type, touched=touched, impact_level=impact.report.impact_level
    )


def assess_change(
    *, store: GraphStore, change_id: str, window: Interval | None = None, matrix: PriorityMatrix | None = None
) -> ChangeAssessment:
    """Assess a stored change in its own window, or in ``window`` when given."""
    change = load_change(store, change_id)
    tz = zone(change.time_zone)
    interval = window or change.window()
    impact = change_impact(store=store, keys=change.touched_keys(), matrix=matrix)
    freezes = load_freeze_windows(store)
    scheduled = scheduled_changes(store, excluding=change.id)
    conflicts = find_conflicts(
        change_id=change.id,
        window=interval,
        radius=impact.radius,
        freezes=freezes,
        scheduled=scheduled,
        tz=tz,
    )
    slot = next_free_slot(
        change_id=change.id,
        window=interval,
        radius=impact.radius,
        freezes=freezes,
        scheduled=scheduled,
        tz=tz,
    )
    return ChangeAssessment(
        change=change,
        window=interval,
        impact=impact,
        conflicts=conflicts,
        next_free_slot=slot,
        required_approvals=required_roles(store, change, impact),
        approvals=store.approvals(change.id),
        post_implementation_review=needs_post_implementation_review(change.type),
    )


def _later_changes(store: GraphStore, change: ChangeRecord) -> list[LaterChange]:
    """Return the changes applied after ``change`` that touch one of its CIs, one entry per shared CI."""
    implemented_at = str(change.details.get("implementation", {}).get("at", ""))
    mine = set(change.touched_keys())
    later: list[LaterChange] = []
    for stored in store.list_changes(states=[state.value for state in APPLIED_STATES]):
        other = from_stored_change(stored)
        other_at = str(other.details.get("implementation", {}).get("at", ""))
        if other.id == change.id or not other_at or other_at <= implemented_at:
            continue
        later.extend(LaterChange(other.id, key) for key in sorted(mine & set(other.touched_keys())))
    return later


def _links(store: GraphStore, keys: Sequence[str]) -> list[tuple[str, str, str]]:
    members = set(keys)
    links: list[tuple[str, str, str]] = []
    for key in sorted(members):
        for rel in store.relationships(key, direction=Direction.OUTGOING):
            if rel.target in members:
                links.append((rel.source, rel.type, rel.target))
    return links


def rollback_scope(store: GraphStore, change: ChangeRecord) -> RollbackPlan:
    """Return the rollback plan of an implemented change from its recorded values and the current CIs."""
    implementation = change.details.get("implementation") or {}
    set_values: dict[str, dict[str, Any]] = implementation.get("set") or {
        touch.ci: dict(touch.set_values) for touch in change.touches
    }
    previous: dict[str, dict[str, Any]] = implementation.get("previous") or {}
    current_records = store.get_cis(set_values)
    current = {key: dict(record.attributes) for key, record in current_records.items()}
    return plan_rollback(
        set_values=set_values,
        previous_values=previous,
        current_values=current,
        links=_links(store, sorted(set_values)),
        later_changes=_later_changes(store, change),
    )


def assess_rollback(
    *, store: GraphStore, change_id: str, at: datetime, matrix: PriorityMatrix | None = None
) -> RollbackAssessment:
    """Return the rollback plan of a change and the blast radius and conflicts of rolling it back at ``at``.

    The rollback window lasts as long as the change's own window.
    """
    change = load_change(store, change_id)
    tz = zone(change.time_zone)
    plan = rollback_scope(store, change)
    window = change.window().shifted_to(at)
    keys = sorted({item.ci for item in plan.items})
    if not keys:
        return RollbackAssessment(change=change, plan=plan, window=window, impact=None, conflicts=Conflicts())
    impact = change_impact(store=store, keys=keys, matrix=matrix)
    conflicts = find_conflicts(
        change_id=change.id,
        window=window,
        radius=impact.radius,
        freezes=load_freeze_windows(store),
        scheduled=scheduled_changes(store, excluding=change.id),
        tz=tz,
    )
    return RollbackAssessment(change=change, plan=plan, window=window, impact=impact, conflicts=conflicts)
