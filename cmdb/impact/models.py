"""Inputs and outputs of the impact engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class ImpactState(IntEnum):
    """Impact states ordered so that a larger value is worse."""

    OK = 0
    AT_RISK = 1
    DEGRADED = 2
    DOWN = 3


class Mode(StrEnum):
    """Failure mode of a root. PLANNED_OUTAGE is a change, carried as DOWN and reported as planned."""

    DOWN = "DOWN"
    DEGRADED = "DEGRADED"
    PLANNED_OUTAGE = "PLANNED_OUTAGE"

    @property
    def state(self) -> ImpactState:
        return ImpactState.DEGRADED if self is Mode.DEGRADED else ImpactState.DOWN


@dataclass(frozen=True, slots=True)
class ImpactRequest:
    """An impact question: roots with their modes, overrides, open incidents and urgency 1-3."""

    roots: dict[str, Mode]
    overrides: frozenset[str] = frozenset()
    open_incidents: dict[str, ImpactState] = field(default_factory=dict)
    urgency: int = 2

    def __post_init__(self) -> None:
        if not self.roots:
            raise ValueError("an impact request needs at least one root CI")
        if not 1 <= self.urgency <= 3:
            raise ValueError(f"invalid urgency {self.urgency}; use 1 (high), 2 or 3 (low)")


@dataclass(frozen=True, slots=True)
class ImpactedCI:
    """One impacted CI: its reported state, distance from the nearest root and one shortest chain."""

    key: str
    name: str
    ci_class: str
    criticality: str
    state: str
    distance: int
    path: tuple[str, ...]
    path_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LocationImpact:
    """A location with the number of impacted CIs in it or below it."""

    key: str
    name: str
    impacted: int
    life_critical: int


@dataclass(frozen=True, slots=True)
class ImpactReport:
    """The whole report: impacted CIs (nearest first, then by key) and the clinical summary."""

    impacted: list[ImpactedCI]
    services: dict[str, str]
    departments: dict[str, str]
    life_critical_devices: list[str]
    impact_level: int
    urgency: int
    priority: str
    stakeholders: list[str]
    informed: list[str]
    locations: dict[str, LocationImpact]
    warnings: tuple[str, ...] = ()

    def to_expected_shape(self) -> dict[str, object]:
        """Return the report as one JSON-ready object in the shape of the reference expected answers file."""
        return {
            "impacted": {
                ci.key: {"state": ci.state, "distance": ci.distance, "path": list(ci.path)}
                for ci in sorted(self.impacted, key=lambda c: c.key)
            },
            "services": dict(sorted(self.services.items())),
            "departments": dict(sorted(self.departments.items())),
            "life_critical_devices": list(self.life_critical_devices),
            "impact_level": self.impact_level,
            "urgency": self.urgency,
            "priority": self.priority,
            "stakeholders": list(self.stakeholders),
            "informed": list(self.informed),
            "locations": {
                key: {"impacted": loc.impacted, "life_critical": loc.life_critical}
                for key, loc in sorted(self.locations.items())
            },
        }
