"""GraphQL types of change management: changes, assessments, approvals, rollback plans and failures."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import strawberry
from strawberry.scalars import JSON

from cmdb.changes.analysis import ChangeAssessment, RollbackAssessment
from cmdb.changes.clock import zone
from cmdb.changes.conflicts import Conflicts
from cmdb.changes.documents import change_document
from cmdb.changes.errors import (
    ApprovalRejectedError,
    ChangeNotFoundError,
    ChangeNotReadyError,
    FreezeConflictError,
    RollbackBlockedError,
)
from cmdb.changes.models import ChangeRecord
from cmdb.changes.service import Readiness
from cmdb.graphql.impact_types import ImpactReportType
from cmdb.store.base import ApprovalRecord, FreezeExceptionRecord


@strawberry.type(
    description="A conflict of a change window with a freeze window or another scheduled change."
)
class Conflict:
    kind: str = strawberry.field(description="freeze or change.")
    id: str = strawberry.field(description="Id of the freeze window or of the other change.")
    enforcement: str | None = strawberry.field(description="hard or advisory; null for a change.")
    occurrence: list[str] | None = strawberry.field(description="[start, end) as local ISO 8601 times.")
    cis: list[str] = strawberry.field(description="The CIs in the freeze scope, or shared with the change.")
    at_risk_only: bool

    @classmethod
    def from_conflicts(cls, conflicts: Conflicts, tz: ZoneInfo) -> list[Conflict]:
        found: list[Conflict] = []
        for entry in conflicts.to_list(tz):
            occurrence = entry.get("occurrence")
            cis = entry.get("scope_hit", entry.get("shared", []))
            found.append(
                cls(
                    kind=str(entry["kind"]),
                    id=str(entry["id"]),
                    enforcement=str(entry["enforcement"]) if "enforcement" in entry else None,
                    occurrence=[str(x) for x in occurrence] if isinstance(occurrence, list) else None,
                    cis=[str(x) for x in cis] if isinstance(cis, list) else [],
                    at_risk_only=bool(entry.get("at_risk_only", False)),
                )
            )
        return found


@strawberry.type(description="A role's approval of a change.")
class Approval:
    role: str
    actor: str
    recorded_at: datetime
    comment: str

    @classmethod
    def from_record(cls, record: ApprovalRecord) -> Approval:
        return cls(
            role=record.role, actor=record.actor, recorded_at=record.recorded_at, comment=record.comment
        )


@strawberry.type(
    description="An emergency change implemented during a hard freeze, kept for post-event review."
)
class FreezeException:
    change_id: str
    window_id: str
    occurrence_start: datetime
    occurrence_end: datetime
    reason: str
    actor: str
    recorded_at: datetime
    reviewed_at: datetime | None

    @classmethod
    def from_record(cls, record: FreezeExceptionRecord) -> FreezeException:
        return cls(
            change_id=record.change_id,
            window_id=record.window_id,
            occurrence_start=record.occurrence_start,
            occurrence_end=record.occurrence_end,
            reason=record.reason,
            actor=record.actor,
            recorded_at=record.recorded_at,
            reviewed_at=record.reviewed_at,
        )


@strawberry.type(name="Change", description='A change record, e.g. {id: "CHG-1", type: "normal"}.')
class ChangeType:
    id: str
    type: str = strawberry.field(description="standard, normal or emergency.")
    state: str = strawberry.field(
        description="draft, scheduled, implemented, closed, rolled_back, cancelled or failed."
    )
    time_zone: str
    window: list[str] = strawberry.field(description="[start, end) as local ISO 8601 times with offset.")
    implementer: str
    touched: list[str]
    document: JSON = strawberry.field(description="The stored document, with implementation details.")

    @classmethod
    def from_record(cls, record: ChangeRecord) -> ChangeType:
        return cls(
            id=record.id,
            type=record.type.value,
            state=record.state.value,
            time_zone=record.time_zone,
            window=record.window().as_pair(zone(record.time_zone)),
            implementer=record.implementer,
            touched=record.touched_keys(),
            document=JSON(change_document(record)),
        )


@strawberry.type(description="A change's blast radius, conflicts, next free slot and approvals.")
class ChangeAssessmentType:
    change: ChangeType
    blast_radius: ImpactReportType
    conflicts: list[Conflict]
    has_hard_conflict: bool
    next_free_slot: list[str] | None
    required_approvals: list[str]
    approvals: list[Approval]
    missing_approvals: list[str]
    post_implementation_review: bool

    @classmethod
    def from_assessment(cls, assessment: ChangeAssessment) -> ChangeAssessmentType:
        tz = assessment.tz
        slot = assessment.next_free_slot
        return cls(
            change=ChangeType.from_record(assessment.change),
            blast_radius=ImpactReportType.from_report(assessment.impact.report),
            conflicts=Conflict.from_conflicts(assessment.conflicts, tz),
            has_hard_conflict=assessment.conflicts.hard,
            next_free_slot=slot.as_pair(tz) if slot else None,
            required_approvals=list(assessment.required_approvals),
            approvals=[Approval.from_record(a) for a in assessment.approvals],
            missing_approvals=assessment.missing_approvals,
            post_implementation_review=assessment.post_implementation_review,
        )


@strawberry.type(description="One value to revert: on ci, attribute goes from `from` back to `to`.")
class RollbackItem:
    ci: str
    attribute: str
    from_value: JSON = strawberry.field(name="from")
    to_value: JSON = strawberry.field(name="to")


@strawberry.type(description="The rollback scope of a change and what rolling it back in window would do.")
class RollbackPlanType:
    change_id: str
    items: list[RollbackItem]
    order: list[str]
    coupled: list[list[str]]
    blockers: JSON = strawberry.field(description="Later changes on the same CIs and drifted values.")
    blocked: bool
    window: list[str]
    blast_radius: ImpactReportType | None
    conflicts: list[Conflict]

    @classmethod
    def from_assessment(cls, assessment: RollbackAssessment) -> RollbackPlanType:
        tz = zone(assessment.change.time_zone)
        plan = assessment.plan
        return cls(
            change_id=assessment.change.id,
            items=[
                RollbackItem(ci=i.ci, attribute=i.attribute, from_value=i.set_value, to_value=i.previous)
                for i in plan.items
            ],
            order=list(plan.order),
            coupled=[list(group) for group in plan.coupled],
            blockers=JSON([blocker.to_dict() for blocker in plan.blockers]),
            blocked=plan.blocked,
            window=assessment.window.as_pair(tz),
            blast_radius=ImpactReportType.from_report(assessment.impact.report)
            if assessment.impact
            else None,
            conflicts=Conflict.from_conflicts(assessment.conflicts, tz),
        )


@strawberry.type(
    name="Readiness",
    description="Whether a change is scheduled and fully approved; freezes are checked on implementing.",
)
class ReadinessType:
    change_id: str
    ready: bool
    missing_approvals: list[str] = strawberry.field(description="Required roles that have not approved yet.")
    problems: list[str] = strawberry.field(
        description="Why the change may not be implemented; empty when ready."
    )

    @classmethod
    def from_readiness(cls, change_id: str, readiness: Readiness) -> ReadinessType:
        return cls(
            change_id=change_id,
            ready=readiness.ready,
            missing_approvals=list(readiness.missing_approvals),
            problems=list(readiness.problems),
        )


@strawberry.type(description="No change has this id.")
class ChangeNotFound:
    change_id: str
    message: str

    @classmethod
    def from_error(cls, error: ChangeNotFoundError) -> ChangeNotFound:
        return cls(change_id=error.change_id, message=str(error))


@strawberry.type(description="Implementing now would break a hard freeze; nothing was written.")
class FreezeConflict:
    change_id: str
    message: str
    conflicts: list[Conflict]

    @classmethod
    def from_error(cls, error: FreezeConflictError, tz: ZoneInfo) -> FreezeConflict:
        return cls(
            change_id=error.change_id,
            message=str(error),
            conflicts=Conflict.from_conflicts(error.conflicts, tz),
        )


@strawberry.type(description="The approval was not recorded, and reason says why.")
class ApprovalRejected:
    change_id: str
    role: str
    actor: str
    reason: str
    message: str

    @classmethod
    def from_error(cls, error: ApprovalRejectedError) -> ApprovalRejected:
        return cls(
            change_id=error.change_id,
            role=error.role,
            actor=error.actor,
            reason=error.reason,
            message=str(error),
        )


@strawberry.type(
    description="The rollback has blockers and was not forced with a reason; nothing was written."
)
class RollbackBlocked:
    change_id: str
    message: str
    blockers: JSON

    @classmethod
    def from_error(cls, error: RollbackBlockedError) -> RollbackBlocked:
        return cls(
            change_id=error.change_id,
            message=str(error),
            blockers=JSON([blocker.to_dict() for blocker in error.plan.blockers]),
        )


@strawberry.type(description="The change is not scheduled or lacks approvals; nothing was written.")
class ChangeNotReady:
    change_id: str
    message: str
    problems: list[str]
    missing_approvals: list[str]

    @classmethod
    def from_error(cls, error: ChangeNotReadyError) -> ChangeNotReady:
        return cls(
            change_id=error.change_id,
            message=str(error),
            problems=list(error.problems),
            missing_approvals=list(error.missing_approvals),
        )
