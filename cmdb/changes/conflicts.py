"""Conflicts of a change with freeze windows and other scheduled changes, and the next free slot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cmdb.changes.clock import Interval
from cmdb.changes.freeze import Enforcement, FreezeWindow
from cmdb.impact.models import ImpactState

SLOT_STEP = timedelta(minutes=15)
SLOT_HORIZON = timedelta(days=90)
_BROKEN = (ImpactState.DOWN, ImpactState.DEGRADED)


@dataclass(frozen=True, slots=True)
class BlastRadius:
    """The final state of every CI a change impacts (roots included) and the scope tokens each matches.

    A CI's scope tokens are its key, ``class:NAME``, ``tag:NAME`` for each tag,
    and the keys of every Location above it through LOCATED_IN.
    """

    states: Mapping[str, ImpactState]
    scope_tokens: Mapping[str, frozenset[str]]

    def broken(self) -> set[str]:
        """Return the CIs that count for every conflict: DOWN or DEGRADED."""
        return {key for key, state in self.states.items() if state in _BROKEN}

    def at_risk(self) -> set[str]:
        return {key for key, state in self.states.items() if state is ImpactState.AT_RISK}

    def hits(self, keys: set[str], scope: Sequence[str]) -> list[str]:
        """Return the CIs of ``keys`` that the scope names, sorted by key."""
        wanted = set(scope)
        return sorted(key for key in keys if self.scope_tokens.get(key, frozenset({key})) & wanted)


@dataclass(frozen=True, slots=True)
class ScheduledChange:
    """Another change in state scheduled: its window and the CIs its blast radius breaks."""

    id: str
    window: Interval
    broken: frozenset[str]


@dataclass(frozen=True, slots=True)
class FreezeConflict:
    window_id: str
    enforcement: Enforcement
    occurrence: Interval
    scope_hit: list[str]
    at_risk_only: bool = False

    def to_dict(self, tz: ZoneInfo) -> dict[str, object]:
        entry: dict[str, object] = {
            "kind": "freeze",
            "id": self.window_id,
            "enforcement": self.enforcement.value,
            "occurrence": self.occurrence.as_pair(tz),
            "scope_hit": list(self.scope_hit),
        }
        if self.at_risk_only:
            entry["at_risk_only"] = True
        return entry

    @property
    def hard(self) -> bool:
        return self.enforcement is Enforcement.HARD and not self.at_risk_only


@dataclass(frozen=True, slots=True)
class ChangeConflict:
    change_id: str
    shared: list[str]

    def to_dict(self, tz: ZoneInfo) -> dict[str, object]:
        return {"kind": "change", "id": self.change_id, "shared": list(self.shared)}

    @property
    def hard(self) -> bool:
        return True


@dataclass(slots=True)
class Conflicts:
    freezes: list[FreezeConflict] = field(default_factory=list)
    changes: list[ChangeConflict] = field(default_factory=list)

    @property
    def hard(self) -> bool:
        return any(c.hard for c in self.freezes) or bool(self.changes)

    def to_list(self, tz: ZoneInfo) -> list[dict[str, object]]:
        return [c.to_dict(tz) for c in self.freezes] + [c.to_dict(tz) for c in self.changes]


def find_conflicts(
    *,
    change_id: str,
    window: Interval,
    radius: BlastRadius,
    freezes: Sequence[FreezeWindow],
    scheduled: Sequence[ScheduledChange],
    tz: ZoneInfo,
) -> Conflicts:
    """Return the freeze windows and scheduled changes that conflict with a change in ``window``."""
    broken = radius.broken()
    at_risk = radius.at_risk()
    conflicts = Conflicts()
    for freeze in freezes:
        hit = radius.hits(broken, freeze.scope)
        at_risk_hit = radius.hits(at_risk, freeze.scope) if not hit else []
        if not hit and not at_risk_hit:
            continue
        for occurrence in freeze.occurrences(tz, window):
            if hit:
                conflicts.freezes.append(FreezeConflict(freeze.id, freeze.enforcement, occurrence, hit))
            else:
                conflicts.freezes.append(
                    FreezeConflict(
                        freeze.id, Enforcement.ADVISORY, occurrence, at_risk_hit, at_risk_only=True
                    )
                )
    conflicts.freezes.sort(key=lambda c: (c.occurrence.start, c.window_id))
    for other in scheduled:
        if other.id == change_id or not other.window.overlaps(window):
            continue
        shared = sorted(broken & other.broken)
        if shared:
            conflicts.changes.append(ChangeConflict(other.id, shared))
    conflicts.changes.sort(key=lambda c: c.change_id)
    return conflicts


def next_free_slot(
    *,
    change_id: str,
    window: Interval,
    radius: BlastRadius,
    freezes: Sequence[FreezeWindow],
    scheduled: Sequence[ScheduledChange],
    tz: ZoneInfo,
) -> Interval | None:
    """Return the earliest window of the same elapsed duration with no hard conflict, or None.

    Candidates start at local quarter hours (both instants of a repeated hour,
    in order), at or after the requested start and within 90 days of it.
    """
    duration = window.duration
    horizon = Interval(window.start, window.start + SLOT_HORIZON + duration)
    busy = _hard_busy_intervals(change_id, radius, freezes, scheduled, horizon, tz)
    candidate = _first_quarter_hour(window.start, tz)
    while candidate <= window.start + SLOT_HORIZON:
        slot = Interval(candidate, candidate + duration)
        blocking = [interval for interval in busy if interval.overlaps(slot)]
        if not blocking:
            return slot
        # Every quarter hour before the latest blocking end would overlap it too.
        latest_end = max(interval.end for interval in blocking)
        candidate = _first_quarter_hour(max(latest_end, candidate + SLOT_STEP), tz)
    return None


def _hard_busy_intervals(
    change_id: str,
    radius: BlastRadius,
    freezes: Sequence[FreezeWindow],
    scheduled: Sequence[ScheduledChange],
    horizon: Interval,
    tz: ZoneInfo,
) -> list[Interval]:
    broken = radius.broken()
    busy: list[Interval] = []
    for freeze in freezes:
        if freeze.enforcement is Enforcement.HARD and radius.hits(broken, freeze.scope):
            busy.extend(freeze.occurrences(tz, horizon))
    for other in scheduled:
        if other.id != change_id and broken & other.broken:
            busy.append(other.window)
    return busy


def _first_quarter_hour(instant: datetime, tz: ZoneInfo) -> datetime:
    """Return the first instant at or after ``instant`` whose local time is on a quarter hour.

    Steps are taken in UTC, so a repeated local hour is visited twice and a
    skipped one never.
    """
    utc = instant.astimezone(UTC)
    candidate = utc.replace(second=0, microsecond=0)
    if candidate < utc:
        candidate += timedelta(minutes=1)
    while candidate.astimezone(tz).minute % 15 != 0:
        candidate += timedelta(minutes=1)
    return candidate
