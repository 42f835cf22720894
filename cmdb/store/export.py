"""Raw export and import of a store's rows, for copying a whole graph with its history to another store.

``ExportableStore`` is a protocol of its own beside ``GraphStore``: the upserts of ``GraphStore``
record a new version for every write, but a copy must carry the stored rows unchanged. An import
therefore writes rows exactly as exported (versions keep their actor, origin, request id, change
id and validity interval) and records nothing new. Each store implements it in a subclass
(``cmdb.store.sqlite_export``, ``cmdb.store.neo4j_export``); ``open_exportable`` opens one by URL.

Paging is by CI key: CIs in key order, then relationships by their source CI and versions by
their CI, one page of CI keys at a time. Change records page by id and carry their approvals and
reviews. Freeze windows and discovery runs page by id, and freeze exceptions by the order they
were recorded in. Keys are compared as the store compares strings, so a cursor is only
meaningful to the store that produced it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

# Phases of a copy, in order. A copy at "done" has been written completely. Change records come
# before freeze exceptions, which name them.
PHASES = (
    "cis",
    "relationships",
    "versions",
    "tokens",
    "changes",
    "freeze_windows",
    "freeze_exceptions",
    "discovery_runs",
    "done",
)

# Kinds of rows, as counted and checksummed. Approvals and reviews travel with their change.
ROW_KINDS = (
    "cis",
    "relationships",
    "versions",
    "tokens",
    "changes",
    "approvals",
    "reviews",
    "freeze_windows",
    "freeze_exceptions",
    "discovery_runs",
)


@dataclass(frozen=True, slots=True)
class RawCI:
    """A stored CI with every column a store keeps, derived lookups left out."""

    key: str
    ci_class: str
    name: str
    status: str
    criticality: str
    identifiers: dict[str, Any]
    attributes: dict[str, Any]
    tags: list[str]
    sources: dict[str, str]
    version: int
    first_seen: datetime
    last_seen: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RawRelationship:
    """A stored relationship; its impact edge is derived again on import."""

    source: str
    type: str
    target: str
    properties: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RawVersion:
    """A version row. ``ci_key`` is the CI, or the relationship's source; ``seq`` orders equal instants."""

    entity: str
    key: str
    ci_key: str
    version: int
    operation: str
    snapshot: dict[str, Any]
    actor: str
    origin: str
    request_id: str | None
    change_id: str | None
    valid_from: datetime
    valid_to: datetime | None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class RawToken:
    """A stored API token: its hash, never the token itself."""

    name: str
    token_hash: str
    actor: str
    roles: list[str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RawChange:
    """A stored change record: its JSON document, state and window (UTC), and when it was written."""

    id: str
    state: str
    window_start: datetime
    window_end: datetime
    document: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RawFreezeWindow:
    """A stored freeze window: its JSON document, and when it was written."""

    id: str
    document: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RawApproval:
    """A role's approval of a change."""

    change_id: str
    role: str
    actor: str
    comment: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class RawFreezeException:
    """A freeze exception. ``seq`` is the source store's recording order, and the export cursor."""

    change_id: str
    window_id: str
    occurrence_start: datetime
    occurrence_end: datetime
    reason: str
    actor: str
    recorded_at: datetime
    reviewed_at: datetime | None
    seq: int


@dataclass(frozen=True, slots=True)
class RawReview:
    """A post-implementation review. ``seq`` is the source store's recording order."""

    change_id: str
    actor: str
    outcome: str
    notes: str
    recorded_at: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class RawDiscoveryRun:
    """A discovery run record: its JSON document and start time."""

    id: str
    started_at: datetime
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RawBatch:
    """Rows written by one import call, in one transaction.

    Approvals and reviews must name change records imported before or in the same batch. Freeze
    exceptions and reviews are written in the order given, which becomes their recording order.
    """

    cis: Sequence[RawCI] = ()
    relationships: Sequence[RawRelationship] = ()
    versions: Sequence[RawVersion] = ()
    tokens: Sequence[RawToken] = ()
    changes: Sequence[RawChange] = ()
    approvals: Sequence[RawApproval] = ()
    reviews: Sequence[RawReview] = ()
    freeze_windows: Sequence[RawFreezeWindow] = ()
    freeze_exceptions: Sequence[RawFreezeException] = ()
    discovery_runs: Sequence[RawDiscoveryRun] = ()

    def __len__(self) -> int:
        return sum(len(getattr(self, kind)) for kind in ROW_KINDS)


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """Row counts of a store with the latest version's ``valid_from`` and change or window update.

    Most writes change at least one of them. A token rotated under the same name, a discovery run
    saved again under its id and a CI only seen again (``last_seen``) do not, so a copy relies on
    its final checksums to catch those.
    """

    cis: int
    relationships: int
    versions: int
    tokens: int
    changes: int
    approvals: int
    reviews: int
    freeze_windows: int
    freeze_exceptions: int
    discovery_runs: int
    last_valid_from: datetime | None
    last_change_update: datetime | None

    def counts(self) -> dict[str, int]:
        """Return the number of rows of each kind, by the names of ``ROW_KINDS``."""
        return {kind: getattr(self, kind) for kind in ROW_KINDS}

    @property
    def total(self) -> int:
        return sum(self.counts().values())

    def is_empty(self) -> bool:
        return self.total == 0

    def fingerprint(self) -> str:
        """Return a SHA-256 hex digest of the counts and latest instants, to recognise the same source."""
        document: dict[str, Any] = {
            **self.counts(),
            "last_valid_from": iso_time(self.last_valid_from),
            "last_change_update": iso_time(self.last_change_update),
        }
        return hashlib.sha256(canonical_json(document).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CopyProgress:
    """The checkpoint a copy keeps in its target: which source, how far.

    ``cursor`` is the source's last key written in ``phase``, or None at the phase start: a CI key,
    a change, freeze window or discovery run id, or a freeze exception's ``seq`` as text.
    """

    source: str
    fingerprint: str
    phase: str
    cursor: str | None = None

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"invalid copy phase {self.phase!r}; use one of {', '.join(PHASES)}")


@runtime_checkable
class ExportableStore(Protocol):
    """A store whose rows can be exported and imported unchanged, history included.

    It is kept apart from ``GraphStore`` so that the service's protocol does not grow for a tool.
    """

    def export_summary(self) -> ExportSummary: ...

    def export_cis(self, *, after: str | None, limit: int) -> list[RawCI]:
        """Return up to ``limit`` CIs with keys after ``after`` (from the start when None), by key."""
        ...

    def export_ci_keys(self, *, after: str | None, limit: int) -> list[str]:
        """Return up to ``limit`` CI keys after ``after``, in the order of ``export_cis``."""
        ...

    def export_relationships(self, source_keys: Sequence[str]) -> list[RawRelationship]:
        """Return every relationship, ended ones included, whose source is one of ``source_keys``."""
        ...

    def export_versions(self, ci_keys: Sequence[str]) -> list[RawVersion]:
        """Return every version whose ``ci_key`` is one of ``ci_keys``, oldest first."""
        ...

    def export_tokens(self) -> list[RawToken]: ...

    def export_changes(self, *, after: str | None, limit: int) -> list[RawChange]:
        """Return up to ``limit`` change records by id, after ``after`` (from the start when None)."""
        ...

    def export_approvals(self, change_ids: Sequence[str]) -> list[RawApproval]:
        """Return the approvals of the changes ``change_ids``, by change id and role."""
        ...

    def export_reviews(self, change_ids: Sequence[str]) -> list[RawReview]:
        """Return the reviews of the changes ``change_ids``, in the order they were recorded."""
        ...

    def export_freeze_windows(self, *, after: str | None, limit: int) -> list[RawFreezeWindow]:
        """Return up to ``limit`` freeze windows with ids after ``after``, by id."""
        ...

    def export_freeze_exceptions(self, *, after: int | None, limit: int) -> list[RawFreezeException]:
        """Return up to ``limit`` freeze exceptions with ``seq`` after ``after``, in the order recorded."""
        ...

    def export_discovery_runs(self, *, after: str | None, limit: int) -> list[RawDiscoveryRun]:
        """Return up to ``limit`` discovery runs with ids after ``after``, by id."""
        ...

    def copy_progress(self) -> CopyProgress | None:
        """Return the checkpoint of a copy into this store, or None when no copy wrote to it."""
        ...

    def import_batch(self, batch: RawBatch, *, progress: CopyProgress) -> None:
        """Write the rows as given and the checkpoint ``progress``, in one transaction.

        CIs named by relationships and versions must be imported already, and so must change
        records named by approvals, reviews and freeze exceptions, or come in the same batch. A
        row that is already stored, or that names a missing CI or change, raises StoreError and
        nothing of the batch is written.
        """
        ...

    def close(self) -> None: ...


def open_exportable(url: str) -> ExportableStore:
    """Open the store at ``url`` with its export and import methods; raise ValueError for other URLs."""
    from cmdb.store import NEO4J_SCHEMES, SQLiteStore, open_store

    scheme = url.partition("://")[0].lower()
    if scheme == "sqlite":
        from cmdb.store.sqlite_export import SQLiteExportStore

        # open_store checks the URL and names the accepted forms when it is invalid.
        opened = open_store(url)
        opened.close()
        assert isinstance(opened, SQLiteStore)
        return SQLiteExportStore(opened.path)
    if scheme in NEO4J_SCHEMES:
        from cmdb.store.neo4j_export import open_neo4j_export_store

        return open_neo4j_export_store(url)
    # open_store raises the usual message naming the accepted URL forms.
    open_store(url).close()
    raise ValueError(f"the store at {url!r} cannot export its rows; use a SQLite or Neo4j URL")


# Canonical text, the same whichever store the rows came from. The canonical rows and the
# checksums built on them are in cmdb.store.export_checksum.


def iso_time(value: datetime | None) -> str | None:
    """Return ``value`` as ISO 8601 in UTC with microseconds, or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
