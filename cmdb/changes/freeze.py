"""Freeze windows: recurrence or one-off, scope and enforcement, and their occurrences as instants."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from dateutil import rrule as rrule_module

from cmdb.changes.clock import Interval, resolve, wall_clock


class Enforcement(StrEnum):
    """A hard freeze blocks changes; an advisory one only warns."""

    HARD = "hard"
    ADVISORY = "advisory"


@dataclass(frozen=True, slots=True)
class FreezeWindow:
    """A freeze window: a recurrence (RRULE, start, duration) or a one-off start and end.

    ``scope`` holds CI keys (departments, services, locations, any CI) and the
    forms ``class:NAME`` and ``tag:NAME``. Times are wall-clock times in ``time_zone``.
    """

    id: str
    name: str
    scope: tuple[str, ...]
    enforcement: Enforcement
    time_zone: str
    start: datetime
    rrule: str | None = None
    duration: timedelta | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if not self.scope:
            raise ValueError(f"freeze window {self.id!r} has an empty scope; name at least one CI")
        if self.rrule is not None:
            if self.duration is None or self.duration <= timedelta(0):
                raise ValueError(f"freeze window {self.id!r}: a recurring window needs a positive duration")
            if self.end is not None:
                raise ValueError(
                    f"freeze window {self.id!r}: give either an RRULE with a duration or a one-off end"
                )
            self.recurrence()
        else:
            if self.end is None:
                raise ValueError(f"freeze window {self.id!r}: a one-off window needs an end")
            if self.end <= self.start:
                raise ValueError(
                    f"invalid freeze window {self.id!r}: it ends at {self.end.isoformat()}, not after its"
                    f" start {self.start.isoformat()}; give an end later than the start"
                )

    def recurrence(self) -> rrule_module.rrule:
        """Return the parsed RRULE anchored at the window's local start."""
        assert self.rrule is not None
        text = self.rrule.removeprefix("RRULE:")
        try:
            parsed = rrule_module.rrulestr(text, dtstart=self.start)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"invalid RRULE {self.rrule!r} on freeze window {self.id!r}: {error};"
                " write it as in RFC 5545, e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
            ) from None
        if not isinstance(parsed, rrule_module.rrule):
            raise ValueError(f"invalid RRULE {self.rrule!r} on freeze window {self.id!r}: give a single rule")
        return parsed

    def occurrences(self, tz: ZoneInfo, between: Interval) -> Iterator[Interval]:
        """Yield the occurrences that overlap ``between``, in order.

        An occurrence's start is resolved first; it ends at that resolved
        wall-clock start plus the duration, resolved the same way.
        """
        if self.rrule is None:
            assert self.end is not None
            occurrence = Interval(resolve(self.start, tz), resolve(self.end, tz))
            if occurrence.overlaps(between):
                yield occurrence
            return
        assert self.duration is not None
        # Local starts from one duration (plus a day for offsets) before the interval.
        search_from = wall_clock(between.start, tz) - self.duration - timedelta(days=1)
        search_to = wall_clock(between.end, tz) + timedelta(days=1)
        for local_start in self.recurrence().between(search_from, search_to, inc=True):
            start = resolve(local_start, tz)
            end = resolve(wall_clock(start, tz) + self.duration, tz)
            occurrence = Interval(start, end)
            if occurrence.start >= between.end:
                break
            if occurrence.overlaps(between):
                yield occurrence
