"""Change management over a store: validate and save changes and freeze windows, approve, implement.

Every function takes the store as a keyword argument and checks its input
completely before it writes, so a rejected request stores nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from cmdb.changes.analysis import assess_change, load_change
from cmdb.changes.approvals import ChangeType
from cmdb.changes.clock import zone
from cmdb.changes.documents import to_stored_change, to_stored_freeze_window
from cmdb.changes.errors import ApprovalRejectedError, ChangeValidationError
from cmdb.changes.freeze import FreezeWindow
from cmdb.changes.models import ChangeRecord, ChangeState, invalid_field, parse_change, parse_freeze_window
from cmdb.model import CIInput, CIRecord, describe_validation_error
from cmdb.store.base import ApprovalRecord, GraphStore, ReviewRecord

logger = logging.getLogger(__name__)

# States in which a change may still be edited or approved.
OPEN_STATES = frozenset({ChangeState.DRAFT, ChangeState.SCHEDULED})
# States after which a post-implementation review may be recorded.
REVIEWABLE_STATES = frozenset({ChangeState.IMPLEMENTED, ChangeState.CLOSED, ChangeState.ROLLED_BACK})


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Ids of the freeze windows and changes a file created or replaced."""

    freeze_windows: list[str]
    changes: list[str]


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether a change may be implemented, and if not, what is missing."""

    ready: bool
    missing_approvals: list[str]
    problems: list[str]


def ci_input(record: CIRecord, attributes: Mapping[str, Any]) -> CIInput:
    """Return ``record`` as an input with ``attributes`` and the record's version as the expected one.

    Raise pydantic's ValidationError when the attributes do not fit the CI's class.
    """
    return CIInput(
        key=record.key,
        ci_class=record.ci_class,
        name=record.name,
        status=record.status,
        criticality=record.criticality,
        identifiers=record.identifiers,
        attributes=dict(attributes),
        tags=list(record.tags),
        version=record.version,
    )


def merged_attributes(current: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``current`` with ``values`` applied; a value of None removes the attribute."""
    merged = dict(current)
    for name, value in values.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def _check_touches(store: GraphStore, change: ChangeRecord) -> None:
    """Raise ChangeValidationError for a change that touches nothing, a missing CI or invalid values."""
    keys = change.touched_keys()
    if not keys:
        raise ChangeValidationError(
            f"change {change.id!r} touches no CI; list at least one CI under 'touches'", field="touches"
        )
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ChangeValidationError(
            f"change {change.id!r} touches {', '.join(duplicates)} more than once; list each CI once",
            field="touches",
            value=duplicates[0],
        )
    records = store.get_cis(keys)
    for index, touch in enumerate(change.touches):
        record = records.get(touch.ci)
        if record is None:
            raise ChangeValidationError(
                f"change {change.id!r} touches CI {touch.ci!r}, which is not found; import the CI first"
                " or correct the key",
                field=f"touches.{index}.ci",
                value=touch.ci,
            )
        try:
            ci_input(record, merged_attributes(record.attributes, touch.set_values))
        except ValidationError as error:
            problems = "; ".join(describe_validation_error(error))
            raise ChangeValidationError(
                f"change {change.id!r} sets invalid values on {touch.ci!r}: {problems}",
                field=f"touches.{index}.set",
                value=touch.set_values,
            ) from None


def _at(location: str, error: ChangeValidationError) -> ChangeValidationError:
    """Return ``error`` with its field under ``location``, e.g. ``changes.2.window``."""
    return ChangeValidationError(str(error), field=f"{location}{error.field}", value=error.value)


def validate_change(
    *, store: GraphStore, document: Mapping[str, Any], time_zone: str, location: str = ""
) -> ChangeRecord:
    """Parse and check a change document against the store; raise ChangeValidationError.

    The error's field is prefixed with ``location``, the place of the document in a larger one.
    """
    try:
        return _validate_change(store=store, document=document, time_zone=time_zone)
    except ChangeValidationError as error:
        raise _at(location, error) from None


def _validate_change(*, store: GraphStore, document: Mapping[str, Any], time_zone: str) -> ChangeRecord:
    change = parse_change(document, time_zone=time_zone)
    if change.state not in OPEN_STATES:
        raise ChangeValidationError(
            f"change {change.id!r} cannot be saved in state {change.state.value!r}; save it as draft or"
            " scheduled and implement it through the service",
            field="state",
            value=change.state.value,
        )
    _check_touches(store, change)
    stored = store.get_change(change.id)
    if stored is not None and ChangeState(stored.state) not in OPEN_STATES:
        raise ChangeValidationError(
            f"change {change.id!r} is {stored.state} and can no longer be edited; create a new change",
            field="id",
            value=change.id,
        )
    return change


def validate_freeze_window(
    *, store: GraphStore, document: Mapping[str, Any], time_zone: str, location: str = ""
) -> FreezeWindow:
    """Parse a freeze window document and check that the CIs its scope names exist.

    Raise ChangeValidationError with its field prefixed with ``location``.
    """
    try:
        return _validate_freeze_window(store=store, document=document, time_zone=time_zone)
    except ChangeValidationError as error:
        raise _at(location, error) from None


def _validate_freeze_window(
    *, store: GraphStore, document: Mapping[str, Any], time_zone: str
) -> FreezeWindow:
    window = parse_freeze_window(document, time_zone=time_zone)
    keys = [item for item in window.scope if not item.startswith(("class:", "tag:"))]
    found = store.get_cis(keys)
    missing = [key for key in keys if key not in found]
    if missing:
        raise ChangeValidationError(
            f"freeze window {window.id!r} names CI {missing[0]!r} in its scope, which is not found;"
            " correct the key or use class:NAME or tag:NAME",
            field="scope",
            value=missing[0],
        )
    return window


def _entries(document: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """Return the list of objects under ``name``; raise ChangeValidationError for anything else."""
    entries = document.get(name) or []
    if not isinstance(entries, list) or not all(isinstance(entry, Mapping) for entry in entries):
        raise ChangeValidationError(f"'{name}' must be a list of objects", field=name, value=entries)
    return entries


def save_change(*, store: GraphStore, document: Mapping[str, Any], time_zone: str) -> ChangeRecord:
    """Create or replace a draft or scheduled change from a document; raise ChangeValidationError."""
    change = validate_change(store=store, document=document, time_zone=time_zone)
    store.save_changes([to_stored_change(change)])
    logger.info("saved change %s (%s, %s)", change.id, change.type.value, change.state.value)
    return change


def save_freeze_window(*, store: GraphStore, document: Mapping[str, Any], time_zone: str) -> FreezeWindow:
    """Create or replace a freeze window from a document; raise ChangeValidationError."""
    window = validate_freeze_window(store=store, document=document, time_zone=time_zone)
    store.save_changes([], freeze_windows=[to_stored_freeze_window(window)])
    logger.info("saved freeze window %s", window.id)
    return window


def load_changes(*, store: GraphStore, document: Mapping[str, Any]) -> LoadResult:
    """Save the freeze windows and changes of a document shaped like a changes file, all or nothing.

    The document's ``time_zone`` applies to entries that name none. Its
    ``expected`` answers, if any, are ignored.
    """
    time_zone = document.get("time_zone")
    if not isinstance(time_zone, str) or not time_zone:
        raise ChangeValidationError(
            "the changes file has no 'time_zone'; give an IANA name such as 'America/Chicago'",
            field="time_zone",
        )
    with invalid_field("time_zone", time_zone):
        zone(time_zone)
    windows_raw = _entries(document, "freeze_windows")
    changes_raw = _entries(document, "changes")
    windows = [
        validate_freeze_window(
            store=store, document=doc, time_zone=time_zone, location=f"freeze_windows.{index}."
        )
        for index, doc in enumerate(windows_raw)
    ]
    changes = [
        validate_change(store=store, document=doc, time_zone=time_zone, location=f"changes.{index}.")
        for index, doc in enumerate(changes_raw)
    ]
    for kind, ids in (("freeze_windows", [w.id for w in windows]), ("changes", [c.id for c in changes])):
        repeated = [index for index, item in enumerate(ids) if ids.index(item) != index]
        if repeated:
            raise ChangeValidationError(
                f"{kind} lists {ids[repeated[0]]!r} twice; give each entry a unique id",
                field=f"{kind}.{repeated[0]}.id",
                value=ids[repeated[0]],
            )
    store.save_changes(
        [to_stored_change(change) for change in changes],
        freeze_windows=[to_stored_freeze_window(window) for window in windows],
    )
    logger.info("loaded %d freeze windows and %d changes", len(windows), len(changes))
    return LoadResult(freeze_windows=[w.id for w in windows], changes=[c.id for c in changes])


def approve_change(
    *,
    store: GraphStore,
    change_id: str,
    role: str,
    actor: str,
    caller_roles: frozenset[str],
    comment: str = "",
) -> ApprovalRecord:
    """Record ``actor``'s approval of a change as ``role``.

    Reject with ApprovalRejectedError a change that is no longer open, a role the
    change does not need, a role the caller does not hold, an approval by the
    change's implementer (segregation of duties) and a role already approved.
    """
    assessment = assess_change(store=store, change_id=change_id)
    change = assessment.change

    def reject(reason: str) -> ApprovalRejectedError:
        logger.warning("rejected approval of %s as %s by %s: %s", change_id, role, actor, reason)
        return ApprovalRejectedError(change_id, role, actor, reason)

    if change.state not in OPEN_STATES:
        raise reject(f"the change is {change.state.value}; only draft or scheduled changes are approved")
    if role not in assessment.required_approvals:
        needed = ", ".join(assessment.required_approvals) or "none"
        raise reject(f"role {role!r} is not required for this change; required roles: {needed}")
    if role not in caller_roles:
        raise reject(f"the caller does not hold role {role!r}; use a token with that role")
    if actor == change.implementer:
        raise reject("the implementer cannot approve their own change; ask another holder of the role")
    granted = {approval.role: approval.actor for approval in assessment.approvals}
    if role in granted:
        raise reject(f"role {role!r} already approved this change (by {granted[role]!r})")
    approval = ApprovalRecord(
        change_id=change_id, role=role, actor=actor, recorded_at=datetime.now(UTC), comment=comment
    )
    store.save_approval(approval)
    logger.info("change %s approved as %s by %s", change_id, role, actor)
    return approval


def readiness(*, store: GraphStore, change_id: str) -> Readiness:
    """Return whether a change may be implemented: scheduled, with every required approval."""
    assessment = assess_change(store=store, change_id=change_id)
    problems: list[str] = []
    if assessment.change.state is not ChangeState.SCHEDULED:
        problems.append(f"the change is {assessment.change.state.value}, not scheduled")
    missing = assessment.missing_approvals
    if missing:
        problems.append(f"approvals missing from: {', '.join(missing)}")
    return Readiness(ready=not problems, missing_approvals=missing, problems=problems)


def record_review(
    *, store: GraphStore, change_id: str, actor: str, outcome: str, notes: str = ""
) -> ReviewRecord:
    """Record a post-implementation review; it also marks the change's freeze exceptions reviewed."""
    change = load_change(store, change_id)
    if change.state not in REVIEWABLE_STATES:
        raise ChangeValidationError(
            f"change {change_id!r} is {change.state.value}; review it after it is implemented",
            field="id",
            value=change_id,
        )
    if not outcome.strip():
        raise ChangeValidationError("a review needs an outcome, e.g. 'successful'", field="outcome")
    review = ReviewRecord(
        change_id=change_id, actor=actor, outcome=outcome.strip(), notes=notes, recorded_at=datetime.now(UTC)
    )
    store.save_review(review)
    logger.info("recorded the post-implementation review of change %s by %s", change_id, actor)
    return review


def set_state(change: ChangeRecord, state: ChangeState, **details: Any) -> ChangeRecord:
    """Return ``change`` in ``state`` with ``details`` added to its details."""
    return dataclasses.replace(change, state=state, details={**change.details, **details})


def is_emergency(change: ChangeRecord) -> bool:
    return change.type is ChangeType.EMERGENCY
