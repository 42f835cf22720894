"""Enumerations shared by the model, the stores and the impact engine."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Lifecycle status of a configuration item."""

    PLANNED = "planned"
    UNVERIFIED = "unverified"
    IN_SERVICE = "in_service"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"
    STALE = "stale"


# CIs in these states take no part in impact analysis.
INACTIVE_STATUSES: frozenset[Status] = frozenset({Status.RETIRED, Status.PLANNED})


class Criticality(StrEnum):
    """Criticality of a CI: how directly its failure reaches patients, worst first."""

    LIFE_CRITICAL = "life_critical"
    PATIENT_CARE = "patient_care"
    BUSINESS = "business"
    ADMINISTRATIVE = "administrative"


class Strength(StrEnum):
    """Strength with which a relationship carries impact: hard as it is, soft turning DOWN into DEGRADED."""

    HARD = "hard"
    SOFT = "soft"


class Flow(StrEnum):
    """Direction in which a relationship type carries impact."""

    TARGET_TO_SOURCE = "target_to_source"
    SOURCE_TO_TARGET = "source_to_target"
    QUORUM = "quorum"
    NONE = "none"


class Direction(StrEnum):
    """Direction of the relationships of a CI to follow when browsing the graph."""

    OUTGOING = "outgoing"
    INCOMING = "incoming"
    BOTH = "both"


class Origin(StrEnum):
    """Origin of a write, recorded in every version."""

    API = "api"
    IMPORT = "import"
    DISCOVERY = "discovery"
    CHANGE = "change"
    CLI = "cli"
    DEMO = "demo"
