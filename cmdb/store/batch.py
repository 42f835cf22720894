"""Checks that every store applies to the rows of an upsert batch before it writes them."""

from __future__ import annotations

from dataclasses import dataclass, field

from cmdb.model import CIInput
from cmdb.store.base import RejectedRowsError, RowError, UpsertResult, VersionConflictError


@dataclass(slots=True)
class BatchOutcome:
    """An upsert's result, plus the version conflicts among its rejected rows by row index."""

    result: UpsertResult = field(default_factory=UpsertResult)
    conflicts: dict[int, VersionConflictError] = field(default_factory=dict)

    def raise_if_strict(self, strict: bool) -> None:
        """Raise for a strict batch with rejected rows, so the transaction rolls back.

        A lone version conflict raises VersionConflictError; anything else RejectedRowsError.
        """
        rejected = self.result.rejected
        if not strict or not rejected:
            return
        if len(rejected) == 1 and rejected[0].index in self.conflicts:
            raise self.conflicts[rejected[0].index]
        raise RejectedRowsError(rejected)

    def admit_ci(self, index: int, ci: CIInput, *, seen: set[str], stored_version: int | None) -> bool:
        """Return whether CI row ``index`` may be written; otherwise record why it is rejected.

        A key repeated in the batch, an expected version for a CI that does not exist and a
        stale expected version are rejected. ``stored_version`` is None for a new CI.
        """
        if ci.key in seen:
            message = f"duplicate key {ci.key!r} in this batch; send each CI once per batch"
            self.result.rejected.append(RowError(index, ci.key, message))
            return False
        seen.add(ci.key)
        if ci.version is None:
            return True
        if stored_version is None:
            message = (
                f"CI {ci.key!r} not found, but version {ci.version} was expected;"
                " omit the version to create it"
            )
            self.result.rejected.append(RowError(index, ci.key, message))
            return False
        if stored_version != ci.version:
            conflict = VersionConflictError(ci.key, ci.version, stored_version)
            self.conflicts[index] = conflict
            self.result.rejected.append(RowError(index, ci.key, str(conflict)))
            return False
        return True
