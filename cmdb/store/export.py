"""Raw export and import of a store's rows, for copying a whole graph with its history to another store.

``ExportableStore`` is a protocol of its own beside ``GraphStore``: the upserts of ``GraphStore``
record a new version for every write, but a copy must carry the stored rows unchanged. An import
therefore writes rows exactly as exported (versions keep their actor, origin, request id, change
id and validity interval) and records nothing new. Each store implements it in a subclass
(``cmdb.store.sqlite_export``, ``cmdb.store.neo4j_export``); ``open_exportable`` opens one by URL.

Paging is by CI key: CIs in key order, then relationships by their source CI and versions by
their CI, one page of CI keys at a time. Keys are compared as the store compares strings, so a
cursor is only meaningful to the store that produced it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

# Phases of a copy, in order. A copy at "done" has been written completely.
PHASES = ("cis", "relationships", "versions", "tokens", "done")


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
class RawBatch:
    """Rows written by one import call, in one transaction."""

    cis: Sequence[RawCI] = ()
    relationships: Sequence[RawRelationship] = ()
    versions: Sequence[RawVersion] = ()
    tokens: Sequence[RawToken] = ()

    def __len__(self) -> int:
        return len(self.cis) + len(self.relationships) + len(self.versions) + len(self.tokens)


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """Row counts of a store, with the latest version's ``valid_from``; every write changes them."""

    cis: int
    relationships: int
    versions: int
    tokens: int
    last_valid_from: datetime | None

    @property
    def total(self) -> int:
        return self.cis + self.relationships + self.versions + self.tokens

    def is_empty(self) -> bool:
        return self.total == 0

    def fingerprint(self) -> str:
        """Return a SHA-256 hex digest of the counts and latest instant, to recognise the same source."""
        document = {
            "cis": self.cis,
            "relationships": self.relationships,
            "versions": self.versions,
            "tokens": self.tokens,
            "last_valid_from": iso_time(self.last_valid_from),
        }
        return hashlib.sha256(canonical_json(document).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CopyProgress:
    """The checkpoint a copy keeps in its target: which source, how far.

    ``cursor`` is the last CI key whose rows of ``phase`` are written, or None at the phase start.
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

    def copy_progress(self) -> CopyProgress | None:
        """Return the checkpoint of a copy into this store, or None when no copy wrote to it."""
        ...

    def import_batch(self, batch: RawBatch, *, progress: CopyProgress) -> None:
        """Write the rows as given and the checkpoint ``progress``, in one transaction.

        CIs named by relationships and versions must be imported already. A row that is
        already stored raises StoreError and nothing of the batch is written.
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


# Canonical forms, the same whichever store the rows came from.


def iso_time(value: datetime | None) -> str | None:
    """Return ``value`` as ISO 8601 in UTC with microseconds, or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_ci(row: RawCI) -> dict[str, Any]:
    return {
        "key": row.key,
        "ci_class": row.ci_class,
        "name": row.name,
        "status": row.status,
        "criticality": row.criticality,
        "identifiers": row.identifiers,
        "attributes": row.attributes,
        "tags": sorted(row.tags),
        "sources": row.sources,
        "version": row.version,
        "first_seen": iso_time(row.first_seen),
        "last_seen": iso_time(row.last_seen),
        "created_at": iso_time(row.created_at),
        "updated_at": iso_time(row.updated_at),
    }


def canonical_relationship(row: RawRelationship) -> dict[str, Any]:
    return {
        "source": row.source,
        "type": row.type,
        "target": row.target,
        "properties": row.properties,
        "version": row.version,
        "created_at": iso_time(row.created_at),
        "updated_at": iso_time(row.updated_at),
        "ended_at": iso_time(row.ended_at),
    }


def canonical_version(row: RawVersion) -> dict[str, Any]:
    """Return the version's fields without ``seq``, whose values differ between stores."""
    return {
        "entity": row.entity,
        "key": row.key,
        "ci_key": row.ci_key,
        "version": row.version,
        "operation": row.operation,
        "snapshot": row.snapshot,
        "actor": row.actor,
        "origin": row.origin,
        "request_id": row.request_id,
        "change_id": row.change_id,
        "valid_from": iso_time(row.valid_from),
        "valid_to": iso_time(row.valid_to),
    }


def canonical_token(row: RawToken) -> dict[str, Any]:
    return {
        "name": row.name,
        "token_hash": row.token_hash,
        "actor": row.actor,
        "roles": sorted(row.roles),
        "created_at": iso_time(row.created_at),
    }


@dataclass(slots=True)
class _SortedDigest:
    """SHA-256 over the sorted SHA-256 digests of rows, so the order rows arrive in does not matter."""

    digests: list[bytes] = field(default_factory=list)

    def add(self, document: dict[str, Any]) -> None:
        self.digests.append(hashlib.sha256(canonical_json(document).encode()).digest())

    def hexdigest(self) -> str:
        combined = hashlib.sha256()
        for digest in sorted(self.digests):
            combined.update(digest)
        return combined.hexdigest()


@dataclass(frozen=True, slots=True)
class StoreChecksum:
    """Row counts and a SHA-256 checksum of each kind of row of a store."""

    counts: dict[str, int]
    checksums: dict[str, str]


def _key_pages(store: ExportableStore, page_size: int) -> Iterator[list[str]]:
    after: str | None = None
    while True:
        keys = store.export_ci_keys(after=after, limit=page_size)
        if not keys:
            return
        yield keys
        after = keys[-1]


def checksum_store(store: ExportableStore, *, page_size: int = 2000) -> StoreChecksum:
    """Compute the counts and checksums of every CI, relationship, version and token of ``store``.

    Each row is put in its canonical JSON form (times in UTC with microseconds, keys sorted) and
    hashed with SHA-256. The sorted digests are hashed again, so two stores that contain the same
    rows give the same checksum whatever their storage and order.
    """
    kinds = {name: _SortedDigest() for name in ("cis", "relationships", "versions", "tokens")}
    after: str | None = None
    while True:
        cis = store.export_cis(after=after, limit=page_size)
        if not cis:
            break
        _add_all(kinds["cis"], (canonical_ci(row) for row in cis))
        after = cis[-1].key
    for keys in _key_pages(store, page_size):
        _add_all(
            kinds["relationships"], (canonical_relationship(r) for r in store.export_relationships(keys))
        )
        _add_all(kinds["versions"], (canonical_version(v) for v in store.export_versions(keys)))
    _add_all(kinds["tokens"], (canonical_token(t) for t in store.export_tokens()))
    return StoreChecksum(
        counts={name: len(kind.digests) for name, kind in kinds.items()},
        checksums={name: kind.hexdigest() for name, kind in kinds.items()},
    )


def _add_all(target: _SortedDigest, documents: Iterable[dict[str, Any]]) -> None:
    for document in documents:
        target.add(document)
