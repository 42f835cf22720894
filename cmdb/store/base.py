"""The GraphStore protocol: the narrow interface every store implements, and the types it returns.

Higher logic (impact, imports, the API) is written once above this protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from cmdb.model import (
    ChangeContext,
    CIInput,
    CIRecord,
    Criticality,
    Direction,
    RelationshipInput,
    RelationshipRecord,
    Status,
    Strength,
    VersionRecord,
)
from cmdb.store.base_discovery import DiscoveryStore

MAX_NEIGHBOUR_DEPTH = 10
MAX_PAGE_SIZE = 500


class StoreError(Exception):
    """Base of the errors a store raises for expected failures."""


class CINotFoundError(StoreError):
    """A CI key that the store does not hold."""

    def __init__(self, key: str) -> None:
        super().__init__(f"CI {key!r} not found; check the key or import the CI first")
        self.key = key


class VersionConflictError(StoreError):
    """An update whose expected version is not the stored one: another write came first."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(
            f"CI {key!r} is at version {actual}, not {expected}; re-read it and apply the change again"
        )
        self.key = key
        self.expected = expected
        self.actual = actual


class RejectedRowsError(StoreError):
    """A strict batch in which some rows were rejected; nothing of the batch was written."""

    def __init__(self, rejected: list[RowError]) -> None:
        super().__init__("; ".join(f"row {r.index}: {r.message}" for r in rejected))
        self.rejected = rejected


@dataclass(frozen=True, slots=True)
class RowError:
    """A row of a batch that was not written, by its position in the batch, and why."""

    index: int
    key: str
    message: str


@dataclass(slots=True)
class UpsertResult:
    """Counts of a batch upsert and the rows it rejected."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)

    def merge(self, other: UpsertResult, *, index_offset: int = 0) -> None:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected.extend(RowError(r.index + index_offset, r.key, r.message) for r in other.rejected)


@dataclass(frozen=True, slots=True)
class CIFilter:
    """Search filter for CIs; every given field must match."""

    ci_classes: tuple[str, ...] = ()
    criticalities: tuple[Criticality, ...] = ()
    statuses: tuple[Status, ...] = ()
    tag: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of CIs ordered by key, with the cursor to the next page."""

    items: list[CIRecord]
    has_next: bool
    end_cursor: str | None
    total: int


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A CI reached from another by following relationships, and how far it is."""

    ci: CIRecord
    distance: int


@dataclass(frozen=True, slots=True)
class ImpactNode:
    """The fields of a CI that the impact engine reads."""

    key: str
    ci_class: str
    name: str
    status: Status
    criticality: Criticality
    tags: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImpactEdge:
    """A derived impact edge, pointing the way impact flows (MEMBER_OF: member to group)."""

    source: str
    target: str
    type: str
    strength: Strength | None


@dataclass(slots=True)
class ImpactClosure:
    """CIs reachable from roots along impact edges, the edges among them, and every group's members."""

    nodes: dict[str, ImpactNode]
    edges: list[ImpactEdge]


@dataclass(slots=True)
class ImpactContext:
    """Containment and stakeholder links of a set of CIs, for the clinical summary.

    ``located_in`` maps a CI to its direct LOCATED_IN targets, including those of
    every location up the chain; ``managed_by`` and ``owned_by`` map a CI to its
    teams and owning departments; ``notify_teams`` lists every Team with
    ``notify_for_tags``; ``nodes`` holds every CI those maps point to (not the
    requested CIs themselves, which the caller already has) and every notify team.
    """

    located_in: dict[str, list[str]]
    managed_by: dict[str, list[str]]
    owned_by: dict[str, list[str]]
    notify_teams: list[ImpactNode]
    nodes: dict[str, ImpactNode]


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A stored API token: its hash, never the token itself."""

    name: str
    token_hash: str
    actor: str
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoredChange:
    """A change record as a store keeps it: its JSON document, plus state and window (UTC) for queries."""

    id: str
    state: str
    window_start: datetime
    window_end: datetime
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredFreezeWindow:
    """A freeze window as a store keeps it: its JSON document by id."""

    id: str
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """A role's approval of a change, by an actor."""

    change_id: str
    role: str
    actor: str
    recorded_at: datetime
    comment: str = ""


@dataclass(frozen=True, slots=True)
class FreezeExceptionRecord:
    """An emergency change implemented during a hard freeze occurrence, kept for post-event review."""

    change_id: str
    window_id: str
    occurrence_start: datetime
    occurrence_end: datetime
    reason: str
    actor: str
    recorded_at: datetime
    reviewed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """A post-implementation review of a change."""

    change_id: str
    actor: str
    outcome: str
    notes: str
    recorded_at: datetime


@runtime_checkable
class GraphStore(DiscoveryStore, Protocol):
    """Storage of the CI graph, its history and its tokens.

    Writes run in one transaction per call; every write of a CI or relationship
    records a version with the given change context.
    """

    def upsert_cis(
        self, cis: Sequence[CIInput], *, context: ChangeContext, strict: bool = False
    ) -> UpsertResult:
        """Create or update CIs by key; a row whose expected version is stale is rejected.

        With ``strict``, any rejected row rolls back the batch and raises
        ``RejectedRowsError`` (or ``VersionConflictError`` for a lone conflict).
        """
        ...

    def upsert_relationships(
        self,
        relationships: Sequence[RelationshipInput],
        *,
        context: ChangeContext,
        strict: bool = False,
    ) -> UpsertResult:
        """Create or update relationships by (source, type, target) with their impact edges.

        A row naming a CI the store does not hold is rejected; with ``strict``
        nothing is written then and ``RejectedRowsError`` is raised.
        """
        ...

    def get_ci(self, key: str) -> CIRecord | None: ...

    def get_cis(self, keys: Iterable[str]) -> dict[str, CIRecord]: ...

    def find_cis(self, text: str) -> list[CIRecord]:
        """Return CIs whose key, name, serial, MAC, IP, hostname, UDI-DI or asset tag equal ``text``."""
        ...

    def search_cis(self, ci_filter: CIFilter, *, first: int, after: str | None) -> Page: ...

    def relationships(
        self, key: str, *, direction: Direction, types: Sequence[str] = ()
    ) -> list[RelationshipRecord]: ...

    def neighbours(
        self, key: str, *, depth: int, direction: Direction, types: Sequence[str] = ()
    ) -> list[Neighbour]:
        """Return CIs within ``depth`` (1 to 10) steps of ``key``, nearest first, then by key."""
        ...

    def impact_closure(self, roots: Iterable[str]) -> ImpactClosure:
        """Return everything impact can reach from ``roots``, plus the members of reached groups.

        Retired and planned CIs are left out.
        """
        ...

    def impact_context(self, keys: Iterable[str]) -> ImpactContext: ...

    def retire_ci(self, key: str, *, expected_version: int | None, context: ChangeContext) -> CIRecord: ...

    def versions(self, key: str) -> list[VersionRecord]:
        """Return the versions of a CI and of the relationships it is the source of, oldest first."""
        ...

    def versions_as_of(self, at: datetime) -> list[VersionRecord]:
        """Return the version of every CI and relationship valid at ``at``: valid_from <= at < valid_to.

        ``at`` must carry a time zone. Versions of operation ``end`` are included;
        the caller leaves those relationships out.
        """
        ...

    def save_changes(
        self, changes: Sequence[StoredChange], *, freeze_windows: Sequence[StoredFreezeWindow] = ()
    ) -> None:
        """Create or replace change records and freeze windows by id, all in one transaction."""
        ...

    def get_change(self, change_id: str) -> StoredChange | None: ...

    def list_changes(self, *, states: Sequence[str] = ()) -> list[StoredChange]:
        """Return the change records in any of ``states`` (all when empty), by window start, then id."""
        ...

    def list_freeze_windows(self) -> list[StoredFreezeWindow]:
        """Return every freeze window, by id."""
        ...

    def apply_change(
        self,
        cis: Sequence[CIInput],
        *,
        change: StoredChange,
        context: ChangeContext,
        freeze_exceptions: Sequence[FreezeExceptionRecord] = (),
    ) -> UpsertResult:
        """Write the CIs a change sets, the change record and its freeze exceptions in one transaction.

        The CIs are upserted strictly: a CI whose expected ``version`` is stale
        raises ``VersionConflictError`` and nothing is written.
        """
        ...

    def save_approval(self, approval: ApprovalRecord) -> None:
        """Record an approval; raise StoreError when the change is unknown or the role already approved."""
        ...

    def approvals(self, change_id: str) -> list[ApprovalRecord]:
        """Return the approvals of a change, by role."""
        ...

    def freeze_exceptions(self, *, change_id: str | None = None) -> list[FreezeExceptionRecord]:
        """Return the freeze exceptions of one change, or of every change when None, oldest first."""
        ...

    def save_review(self, review: ReviewRecord) -> None:
        """Record a post-implementation review and mark the change's freeze exceptions reviewed.

        Raise StoreError when the change is unknown.
        """
        ...

    def reviews(self, change_id: str) -> list[ReviewRecord]:
        """Return the post-implementation reviews of a change, oldest first."""
        ...

    def counts(self) -> dict[str, int]:
        """Return the number of CIs, relationships and versions held."""
        ...

    def save_token(self, token: ApiToken) -> None: ...

    def find_token(self, token_hash: str) -> ApiToken | None: ...

    def ping(self) -> None:
        """Raise when the store cannot run a trivial query."""
        ...

    def close(self) -> None: ...
