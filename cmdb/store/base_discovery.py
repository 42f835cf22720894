"""The part of the GraphStore protocol that discovery needs: ending relationships, runs and ageing out.

`GraphStore` inherits `DiscoveryStore`, so every store implements these methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from cmdb.model import ChangeContext, CIInput, CIRecord

if TYPE_CHECKING:
    from cmdb.store.base import UpsertResult

RelationshipIdentity = tuple[str, str, str]
"""(source key, type, target key)."""


@dataclass(frozen=True, slots=True)
class StoredDiscoveryRun:
    """A discovery run as a store keeps it: its JSON document by id, with the start time (UTC)."""

    id: str
    started_at: datetime
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DiscoveryRunPage:
    """One page of discovery runs, newest first, with the cursor to the next page."""

    items: list[StoredDiscoveryRun]
    has_next: bool
    end_cursor: str | None


class DiscoveryStore(Protocol):
    """Store methods for discovery."""

    def upsert_discovered_cis(
        self, cis: Sequence[CIInput], *, context: ChangeContext, source: str
    ) -> UpsertResult:
        """Upsert CIs as ``upsert_cis`` does (not strictly), labelling what this write sets with ``source``.

        Every attribute this call writes gets ``source`` (e.g. ``discovery:RUN_ID``)
        in place of the bare origin, in the CI and in its new version, in the
        same transaction. Attributes whose value is unchanged keep their source.
        """
        ...

    def end_relationships(self, identities: Sequence[RelationshipIdentity], *, context: ChangeContext) -> int:
        """End-date each live relationship named; return how many were ended.

        An ended relationship keeps its row and history (a version of operation
        ``end``) but leaves reads and the impact closure. Identities that name
        no live relationship are skipped. Upserting the relationship again
        reopens it.
        """
        ...

    def save_discovery_run(self, run: StoredDiscoveryRun) -> None:
        """Create or replace a discovery run record by id."""
        ...

    def get_discovery_run(self, run_id: str) -> StoredDiscoveryRun | None: ...

    def list_discovery_runs(self, *, first: int, after: str | None) -> DiscoveryRunPage:
        """Return runs newest first (by id, which sorts by start time), after the cursor ``after``."""
        ...

    def discovered_cis(self, *, seen_before: datetime) -> list[CIRecord]:
        """Return CIs last seen before ``seen_before`` with an attribute sourced from discovery.

        Stale and retired CIs are left out. ``seen_before`` must carry a time zone.
        """
        ...
