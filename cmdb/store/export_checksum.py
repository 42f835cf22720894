"""Canonical forms of exported rows, and the counts and checksums that verify a copy.

Each row is put in a canonical JSON form, the same whichever store it came from: times in UTC
with microseconds, keys sorted, and store-specific ordering numbers (``seq``) left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cmdb.store.export import (
    ROW_KINDS,
    ExportableStore,
    RawApproval,
    RawChange,
    RawCI,
    RawDiscoveryRun,
    RawFreezeException,
    RawFreezeWindow,
    RawRelationship,
    RawReview,
    RawToken,
    RawVersion,
    canonical_json,
    iso_time,
)


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


def canonical_change(row: RawChange) -> dict[str, Any]:
    return {
        "id": row.id,
        "state": row.state,
        "window_start": iso_time(row.window_start),
        "window_end": iso_time(row.window_end),
        "document": row.document,
        "created_at": iso_time(row.created_at),
        "updated_at": iso_time(row.updated_at),
    }


def canonical_freeze_window(row: RawFreezeWindow) -> dict[str, Any]:
    return {
        "id": row.id,
        "document": row.document,
        "created_at": iso_time(row.created_at),
        "updated_at": iso_time(row.updated_at),
    }


def canonical_approval(row: RawApproval) -> dict[str, Any]:
    return {
        "change_id": row.change_id,
        "role": row.role,
        "actor": row.actor,
        "comment": row.comment,
        "recorded_at": iso_time(row.recorded_at),
    }


def canonical_freeze_exception(row: RawFreezeException) -> dict[str, Any]:
    """Return the exception's fields without ``seq``, whose values may differ between stores."""
    return {
        "change_id": row.change_id,
        "window_id": row.window_id,
        "occurrence_start": iso_time(row.occurrence_start),
        "occurrence_end": iso_time(row.occurrence_end),
        "reason": row.reason,
        "actor": row.actor,
        "recorded_at": iso_time(row.recorded_at),
        "reviewed_at": iso_time(row.reviewed_at),
    }


def canonical_review(row: RawReview) -> dict[str, Any]:
    """Return the review's fields without ``seq``, whose values may differ between stores."""
    return {
        "change_id": row.change_id,
        "actor": row.actor,
        "outcome": row.outcome,
        "notes": row.notes,
        "recorded_at": iso_time(row.recorded_at),
    }


def canonical_discovery_run(row: RawDiscoveryRun) -> dict[str, Any]:
    return {"id": row.id, "started_at": iso_time(row.started_at), "document": row.document}


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
    """Compute the counts and checksums of every kind of row of ``store`` (see ``ROW_KINDS``).

    Each row is put in its canonical JSON form (times in UTC with microseconds, keys sorted) and
    hashed with SHA-256. The sorted digests are hashed again, so two stores that contain the same
    rows give the same checksum whatever their storage and order.
    """
    kinds = {name: _SortedDigest() for name in ROW_KINDS}
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
    _add_change_management(store, kinds, page_size)
    return StoreChecksum(
        counts={name: len(kind.digests) for name, kind in kinds.items()},
        checksums={name: kind.hexdigest() for name, kind in kinds.items()},
    )


def _add_change_management(store: ExportableStore, kinds: dict[str, _SortedDigest], page_size: int) -> None:
    """Add the change records with their approvals and reviews, freeze windows and exceptions, and runs."""
    after: str | None = None
    while changes := store.export_changes(after=after, limit=page_size):
        ids = [change.id for change in changes]
        _add_all(kinds["changes"], (canonical_change(c) for c in changes))
        _add_all(kinds["approvals"], (canonical_approval(a) for a in store.export_approvals(ids)))
        _add_all(kinds["reviews"], (canonical_review(r) for r in store.export_reviews(ids)))
        after = ids[-1]

    after = None
    while windows := store.export_freeze_windows(after=after, limit=page_size):
        _add_all(kinds["freeze_windows"], (canonical_freeze_window(w) for w in windows))
        after = windows[-1].id

    after_seq: int | None = None
    while exceptions := store.export_freeze_exceptions(after=after_seq, limit=page_size):
        _add_all(kinds["freeze_exceptions"], (canonical_freeze_exception(e) for e in exceptions))
        after_seq = exceptions[-1].seq

    after = None
    while runs := store.export_discovery_runs(after=after, limit=page_size):
        _add_all(kinds["discovery_runs"], (canonical_discovery_run(r) for r in runs))
        after = runs[-1].id


def _add_all(target: _SortedDigest, documents: Iterable[dict[str, Any]]) -> None:
    for document in documents:
        target.add(document)
