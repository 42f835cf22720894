"""The record of one discovery run: targets, per-target outcomes, counts and what needs a person.

Stores keep the record as a JSON document (`StoredDiscoveryRun`); these
models are its schema. A record names credential profiles, never their secrets.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from cmdb.store.base_discovery import StoredDiscoveryRun


class RunStatus(StrEnum):
    """Stage of a discovery run."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class TargetStatus(StrEnum):
    """Outcome of the collection from one target."""

    OK = "ok"
    PARTIAL = "partial"
    """The agent responded, but some tables were cut short or failed."""
    UNREACHABLE = "unreachable"
    """No credential profile got a response."""


class TargetOutcome(BaseModel):
    """Result for one target: status, the profile that worked, errors and the CI it became."""

    target: str
    status: TargetStatus
    profile: str | None = Field(default=None, description="Name of the credential profile that worked.")
    error: str | None = Field(default=None, description="The first error, or None.")
    errors: list[str] = Field(default_factory=list)
    ci_key: str | None = None
    partial_tables: list[str] = Field(default_factory=list)


class Disagreement(BaseModel):
    """A curated value that discovery saw differently and left alone."""

    ci_key: str
    field: str = Field(
        description="`attributes.NAME`, `identifiers.NAME` or `relationship TYPE TARGET.NAME`."
    )
    stored: Any
    discovered: Any
    source: str = Field(description="Source of the stored value, e.g. `import` or `api`.")


class UnattachedMac(BaseModel):
    """A MAC learned only on uplinks: its edge port is unknown."""

    mac: str
    vendor: str | None = None
    ips: list[str] = Field(default_factory=list)
    seen_on: list[str] = Field(default_factory=list, description="`TARGET PORT` of each uplink.")
    ci_key: str | None = Field(default=None, description="The CI that owns the MAC, when one is known.")


class DiscoveryRun(BaseModel):
    """One discovery run from start to finish."""

    id: str
    targets: list[str] = Field(description="Target specifications as given: addresses, ranges, CIDR blocks.")
    started_at: datetime
    finished_at: datetime | None = None
    status: RunStatus = RunStatus.RUNNING
    actor: str = "discovery"
    outcomes: list[TargetOutcome] = Field(default_factory=list)
    cis_added: int = 0
    cis_changed: int = 0
    cis_unchanged: int = 0
    cis_stale: int = 0
    links_added: int = 0
    links_changed: int = 0
    links_unchanged: int = 0
    links_removed: int = 0
    unattached: list[UnattachedMac] = Field(default_factory=list)
    disagreements: list[Disagreement] = Field(default_factory=list)
    rejected: list[str] = Field(default_factory=list, description="Rows the store rejected, with the reason.")
    error: str | None = None

    def to_stored(self) -> StoredDiscoveryRun:
        """Return the record as a store keeps it."""
        return StoredDiscoveryRun(
            id=self.id, started_at=self.started_at, document=self.model_dump(mode="json")
        )

    @classmethod
    def from_stored(cls, stored: StoredDiscoveryRun) -> DiscoveryRun:
        """Return the run that a store holds."""
        return cls.model_validate(stored.document)


def new_run_id(now: datetime | None = None) -> str:
    """Return a run id that sorts by start time: `YYYYMMDDTHHMMSSZ-` and eight hex digits."""
    moment = now or datetime.now(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def source_label(run_id: str) -> str:
    """Return the attribute source that a run writes: `discovery:RUN_ID`."""
    return f"discovery:{run_id}"


def is_discovery_source(source: str | None) -> bool:
    """Return whether an attribute source is a discovery run; manual and import sources are curated."""
    return source is not None and (source == "discovery" or source.startswith("discovery:"))
