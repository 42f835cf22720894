"""GraphQL queries and mutations of change management, and impact as of an instant.

Reading needs what every query needs; loading and implementing changes need
the change_manager or admin role; an approval needs the role it is given as,
held by the caller's token.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from cmdb.auth import Role
from cmdb.changes.analysis import assess_change, assess_rollback, load_change
from cmdb.changes.apply import implement_change, rollback_change
from cmdb.changes.clock import zone
from cmdb.changes.errors import (
    ApprovalRejectedError,
    ChangeNotFoundError,
    ChangeNotReadyError,
    ChangeValidationError,
    FreezeConflictError,
    RollbackBlockedError,
)
from cmdb.changes.history import impact_as_of
from cmdb.changes.service import approve_change, load_changes, readiness, record_review, save_change
from cmdb.graphql import fields
from cmdb.graphql.changes_types import (
    Approval,
    ApprovalRejected,
    ChangeAssessmentType,
    ChangeNotFound,
    ChangeNotReady,
    ChangeType,
    FreezeConflict,
    FreezeException,
    ReadinessType,
    RollbackBlocked,
    RollbackPlanType,
)
from cmdb.graphql.context import Context
from cmdb.graphql.impact_types import ImpactReportType
from cmdb.graphql.inputs import ImpactInput
from cmdb.graphql.queries import impact_request
from cmdb.graphql.results import CINotFound, ValidationFailed
from cmdb.store.base import CINotFoundError

logger = logging.getLogger(__name__)

CHANGE_ROLES = frozenset({Role.CHANGE_MANAGER, Role.ADMIN})


@strawberry.type(name="ChangeLoad", description="Ids of the freeze windows and changes a document saved.")
class ChangeLoadType:
    freeze_windows: list[str]
    changes: list[str]


ChangeAssessmentResult = Annotated[
    ChangeAssessmentType | ChangeNotFound | CINotFound, strawberry.union("ChangeAssessmentResult")
]
ReadinessResult = Annotated[ReadinessType | ChangeNotFound | CINotFound, strawberry.union("ReadinessResult")]
RollbackPlanResult = Annotated[
    RollbackPlanType | ChangeNotFound | CINotFound | ValidationFailed, strawberry.union("RollbackPlanResult")
]
ImpactAsOfResult = Annotated[
    ImpactReportType | CINotFound | ValidationFailed, strawberry.union("ImpactAsOfResult")
]
SaveChangeResult = Annotated[ChangeType | ValidationFailed, strawberry.union("SaveChangeResult")]
LoadChangesResult = Annotated[ChangeLoadType | ValidationFailed, strawberry.union("LoadChangesResult")]
ApproveChangeResult = Annotated[
    Approval | ApprovalRejected | ChangeNotFound, strawberry.union("ApproveChangeResult")
]
ImplementChangeResult = Annotated[
    ChangeType | FreezeConflict | ChangeNotReady | ChangeNotFound | CINotFound | ValidationFailed,
    strawberry.union("ImplementChangeResult"),
]
RollbackChangeResult = Annotated[
    ChangeType | RollbackBlocked | ChangeNotReady | ChangeNotFound | CINotFound | ValidationFailed,
    strawberry.union("RollbackChangeResult"),
]
ReviewChangeResult = Annotated[
    ChangeType | ChangeNotFound | ValidationFailed, strawberry.union("ReviewChangeResult")
]


def _instant(at: datetime | None, field: str) -> datetime | ValidationFailed:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        return ValidationFailed.single(
            field, "give a UTC offset, e.g. 2027-01-05T08:00:00-06:00", at.isoformat()
        )
    return at


def _invalid(error: ChangeValidationError, location: str = "") -> ValidationFailed:
    """Return the error as a union member, its field prefixed with ``location``, e.g. "document."."""
    return ValidationFailed.single(f"{location}{error.field}", str(error), error.value)


def _not_found(error: ChangeNotFoundError | CINotFoundError) -> ChangeNotFound | CINotFound:
    """Return the union member for a change or a CI that the store does not contain."""
    if isinstance(error, ChangeNotFoundError):
        return ChangeNotFound.from_error(error)
    return CINotFound.for_key(error.key)


def _change_zone(info: strawberry.Info[Context, None], change_id: str) -> str:
    stored = info.context.store.get_change(change_id)
    return str(stored.document.get("time_zone", "UTC")) if stored else "UTC"


@strawberry.type
class ChangeQuery:
    @fields.field(description="A change with its blast radius, conflicts, next free slot and approvals.")
    def change(self, info: strawberry.Info[Context, None], id: str) -> ChangeAssessmentResult:
        info.context.require_reader()
        try:
            assessment = assess_change(
                store=info.context.store, change_id=id, matrix=info.context.services.matrix
            )
        except (ChangeNotFoundError, CINotFoundError) as error:
            return _not_found(error)
        return ChangeAssessmentType.from_assessment(assessment)

    @fields.field(description="Whether a change is scheduled and has every required approval.")
    def ready_to_implement(self, info: strawberry.Info[Context, None], id: str) -> ReadinessResult:
        info.context.require_reader()
        try:
            found = readiness(store=info.context.store, change_id=id)
        except (ChangeNotFoundError, CINotFoundError) as error:
            return _not_found(error)
        return ReadinessType.from_readiness(id, found)

    @fields.field(description="Change records in any of the given states (all when empty), by window start.")
    def changes(
        self, info: strawberry.Info[Context, None], states: list[str] | None = None
    ) -> list[ChangeType]:
        info.context.require_reader()
        stored = info.context.store.list_changes(states=states or [])
        return [ChangeType.from_record(load_change(info.context.store, change.id)) for change in stored]

    @fields.field(description="Freeze exceptions of emergency changes, for post-event review.")
    def freeze_exceptions(
        self, info: strawberry.Info[Context, None], pending_review: bool = False
    ) -> list[FreezeException]:
        info.context.require_reader()
        records = info.context.store.freeze_exceptions()
        return [FreezeException.from_record(r) for r in records if not (pending_review and r.reviewed_at)]

    @fields.field(
        description="Rollback scope of a change, and the blast radius and conflicts of rolling back at `at`."
    )
    def rollback_plan(
        self, info: strawberry.Info[Context, None], id: str, at: datetime | None = None
    ) -> RollbackPlanResult:
        info.context.require_reader()
        instant = _instant(at, "at")
        if isinstance(instant, ValidationFailed):
            return instant
        try:
            assessment = assess_rollback(store=info.context.store, change_id=id, at=instant)
        except (ChangeNotFoundError, CINotFoundError) as error:
            return _not_found(error)
        return RollbackPlanType.from_assessment(assessment)

    @fields.field(description="Impact of the given roots on the graph as it was at `asOf`.")
    def impact_as_of(
        self, info: strawberry.Info[Context, None], input: ImpactInput, as_of: datetime
    ) -> ImpactAsOfResult:
        info.context.require_reader()
        request = impact_request(input)
        if isinstance(request, ValidationFailed):
            return request
        instant = _instant(as_of, "asOf")
        if isinstance(instant, ValidationFailed):
            return instant
        try:
            report = impact_as_of(
                store=info.context.store, request=request, at=instant, matrix=info.context.services.matrix
            )
        except CINotFoundError as error:
            return CINotFound.for_key(error.key)
        return ImpactReportType.from_report(report)


@strawberry.type
class ChangeMutation:
    @fields.mutation(
        description="Create or replace a draft or scheduled change from a document like a changes file entry."
    )
    def save_change(
        self, info: strawberry.Info[Context, None], document: JSON, time_zone: str = "UTC"
    ) -> SaveChangeResult:
        info.context.require_roles("saveChange", CHANGE_ROLES)
        if not isinstance(document, dict):
            return ValidationFailed.single("document", "give the change as a JSON object")
        try:
            zone(time_zone)
        except ValueError as error:
            return ValidationFailed.single("timeZone", str(error), time_zone)
        try:
            change = save_change(store=info.context.store, document=document, time_zone=time_zone)
        except ChangeValidationError as error:
            return _invalid(error, "document.")
        return ChangeType.from_record(change)

    @fields.mutation(
        description="Save the freeze windows and changes of a changes-file document, all or nothing."
    )
    def load_changes(self, info: strawberry.Info[Context, None], document: JSON) -> LoadChangesResult:
        info.context.require_roles("loadChanges", CHANGE_ROLES)
        if not isinstance(document, dict):
            return ValidationFailed.single("document", "give the document as a JSON object")
        try:
            result = load_changes(store=info.context.store, document=document)
        except ChangeValidationError as error:
            return _invalid(error, "document.")
        return ChangeLoadType(freeze_windows=result.freeze_windows, changes=result.changes)

    @fields.mutation(description="Approve a change as a role the caller's token holds.")
    def approve_change(
        self, info: strawberry.Info[Context, None], id: str, role: str, comment: str = ""
    ) -> ApproveChangeResult:
        principal = info.context.require_roles("approveChange", [r.value for r in Role])
        try:
            approval = approve_change(
                store=info.context.store,
                change_id=id,
                role=role,
                actor=principal.actor,
                caller_roles=principal.roles,
                comment=comment,
            )
        except ChangeNotFoundError as error:
            return ChangeNotFound.from_error(error)
        except ApprovalRejectedError as error:
            return ApprovalRejected.from_error(error)
        return Approval.from_record(approval)

    @fields.mutation(description="Apply a scheduled, approved change as CI versions tagged with its id.")
    def implement_change(
        self,
        info: strawberry.Info[Context, None],
        id: str,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> ImplementChangeResult:
        principal = info.context.require_roles("implementChange", CHANGE_ROLES)
        instant = _instant(at, "at")
        if isinstance(instant, ValidationFailed):
            return instant
        try:
            result = implement_change(
                store=info.context.store,
                change_id=id,
                actor=principal.actor,
                at=instant,
                reason=reason,
                request_id=info.context.request_id,
            )
        except (ChangeNotFoundError, CINotFoundError) as error:
            return _not_found(error)
        except ChangeNotReadyError as error:
            return ChangeNotReady.from_error(error)
        except FreezeConflictError as error:
            return FreezeConflict.from_error(error, zone(_change_zone(info, id)))
        return ChangeType.from_record(result.change)

    @fields.mutation(description="Revert an implemented change; a blocked rollback needs force and a reason.")
    def rollback_change(
        self,
        info: strawberry.Info[Context, None],
        id: str,
        force: bool = False,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> RollbackChangeResult:
        principal = info.context.require_roles("rollbackChange", CHANGE_ROLES)
        instant = _instant(at, "at")
        if isinstance(instant, ValidationFailed):
            return instant
        try:
            result = rollback_change(
                store=info.context.store,
                change_id=id,
                actor=principal.actor,
                at=instant,
                force=force,
                reason=reason,
                request_id=info.context.request_id,
            )
        except (ChangeNotFoundError, CINotFoundError) as error:
            return _not_found(error)
        except ChangeNotReadyError as error:
            return ChangeNotReady.from_error(error)
        except RollbackBlockedError as error:
            return RollbackBlocked.from_error(error)
        return ChangeType.from_record(result.change)

    @fields.mutation(description="Record the post-implementation review of a change.")
    def review_change(
        self, info: strawberry.Info[Context, None], id: str, outcome: str, notes: str = ""
    ) -> ReviewChangeResult:
        principal = info.context.require_roles("reviewChange", CHANGE_ROLES | {Role.ECAB, Role.CAB})
        try:
            record_review(
                store=info.context.store, change_id=id, actor=principal.actor, outcome=outcome, notes=notes
            )
        except ChangeNotFoundError as error:
            return ChangeNotFound.from_error(error)
        except ChangeValidationError as error:
            return _invalid(error)
        return ChangeType.from_record(load_change(info.context.store, id))
