"""Expected failures of change management, each naming the change and what to do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cmdb.changes.conflicts import Conflicts
    from cmdb.changes.rollback import RollbackPlan


class ChangeError(Exception):
    """Base of the expected failures of change management."""


class ChangeNotFoundError(ChangeError):
    def __init__(self, change_id: str) -> None:
        super().__init__(f"change {change_id!r} not found; check the id or load the change first")
        self.change_id = change_id


class ChangeValidationError(ChangeError, ValueError):
    """Invalid input for a change or freeze window; nothing was stored."""

    def __init__(self, message: str, *, field: str = "input", value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class ChangeNotReadyError(ChangeError):
    """A change that cannot be implemented yet: wrong state or approvals missing."""

    def __init__(self, change_id: str, problems: Sequence[str], missing_approvals: Sequence[str]) -> None:
        super().__init__(f"change {change_id!r} is not ready to implement: {'; '.join(problems)}")
        self.change_id = change_id
        self.problems = list(problems)
        self.missing_approvals = list(missing_approvals)


class FreezeConflictError(ChangeError):
    """Implementing now would break a hard freeze and no emergency exception applies."""

    def __init__(self, change_id: str, conflicts: Conflicts, message: str) -> None:
        super().__init__(message)
        self.change_id = change_id
        self.conflicts = conflicts


class ApprovalRejectedError(ChangeError):
    """An approval that may not be recorded: role not required or not held, or the implementer's own."""

    def __init__(self, change_id: str, role: str, actor: str, reason: str) -> None:
        super().__init__(f"approval of change {change_id!r} as {role!r} by {actor!r} rejected: {reason}")
        self.change_id = change_id
        self.role = role
        self.actor = actor
        self.reason = reason


class RollbackBlockedError(ChangeError):
    """A rollback with blockers, requested without force and a reason."""

    def __init__(self, change_id: str, plan: RollbackPlan) -> None:
        kinds = ", ".join(sorted({blocker.to_dict()["kind"] for blocker in plan.blockers}))
        super().__init__(
            f"rollback of change {change_id!r} is blocked ({kinds}); review the blockers, then force it"
            " with a reason"
        )
        self.change_id = change_id
        self.plan = plan
