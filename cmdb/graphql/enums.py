"""GraphQL enums that map onto the model's and the impact engine's enumerations."""

from __future__ import annotations

from enum import Enum

import strawberry

from cmdb.impact import ImpactState, Mode
from cmdb.model import Direction


@strawberry.enum(name="Direction", description="Which relationships of a CI to follow.")
class DirectionEnum(Enum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"
    BOTH = "both"

    def to_model(self) -> Direction:
        return Direction(self.value)


@strawberry.enum(
    name="FailureMode",
    description="How a root CI fails; PLANNED_OUTAGE is a change, carried as DOWN and reported as planned.",
)
class FailureModeEnum(Enum):
    DOWN = "DOWN"
    DEGRADED = "DEGRADED"
    PLANNED_OUTAGE = "PLANNED_OUTAGE"

    def to_model(self) -> Mode:
        return Mode(self.value)


@strawberry.enum(
    name="ImpactState",
    description="Reported state of an impacted CI, worst first; PLANNED_OUTAGE only on a change's roots.",
)
class ImpactStateEnum(Enum):
    PLANNED_OUTAGE = "PLANNED_OUTAGE"
    DOWN = "DOWN"
    DEGRADED = "DEGRADED"
    AT_RISK = "AT_RISK"


@strawberry.enum(
    name="IncidentState",
    description="State of a CI under an open incident; counts only toward a redundancy group's quorum.",
)
class IncidentStateEnum(Enum):
    DOWN = "DOWN"
    DEGRADED = "DEGRADED"
    AT_RISK = "AT_RISK"

    def to_model(self) -> ImpactState:
        return ImpactState[self.value]
