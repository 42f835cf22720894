"""Wall-clock times in a hospital's time zone resolved to instants, as RFC 5545 resolves them.

A local time that does not exist (the spring-forward gap) moves forward by the
length of the gap; one that happens twice (the fall-back hour) takes its first
instant. Every interval is half-open, [start, end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    """Return the IANA time zone ``name``; raise ValueError naming it when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as 'America/Chicago'") from None


def resolve(local: datetime, tz: ZoneInfo) -> datetime:
    """Return the instant, in UTC, of the naive wall-clock time ``local`` in ``tz``.

    ``fold=0`` gives exactly the RFC 5545 rule: in a gap zoneinfo applies the
    offset from before the transition, which lands the gap's length later, and
    in a repeated hour it picks the first of the two instants.
    """
    if local.tzinfo is not None:
        raise ValueError(f"expected a wall-clock time without offset, got {local.isoformat()}")
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def parse_local(text: str, what: str) -> datetime:
    """Parse an ISO 8601 wall-clock time without offset, such as 2027-01-05T08:00."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid {what} {text!r}; write a local time such as 2027-01-05T08:00") from None
    if value.tzinfo is not None:
        raise ValueError(f"invalid {what} {text!r}: give the hospital's wall-clock time without a UTC offset")
    return value


def wall_clock(instant: datetime, tz: ZoneInfo) -> datetime:
    """Return the naive wall-clock time that ``instant`` shows in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def iso(instant: datetime, tz: ZoneInfo) -> str:
    """Format an instant as ISO 8601 local time with its UTC offset, to the minute when seconds are zero."""
    local = instant.astimezone(tz)
    text = local.isoformat(timespec="seconds")
    if local.second == 0 and local.microsecond == 0:
        text = text[:16] + text[19:]
    return text


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open interval of instants [start, end), held in UTC.

    Arithmetic on aware datetimes in a zoneinfo zone is wall-clock arithmetic,
    so bounds are converted to UTC, where adding a duration adds elapsed time.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval bounds must be instants with a time zone")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def shifted_to(self, start: datetime) -> Interval:
        """Return an interval of the same elapsed duration starting at ``start``."""
        return Interval(start, start + self.duration)

    def as_pair(self, tz: ZoneInfo) -> list[str]:
        return [iso(self.start, tz), iso(self.end, tz)]


def local_window(start: datetime, end: datetime, tz: ZoneInfo, what: str) -> Interval:
    """Resolve a wall-clock window; raise ValueError when it does not end after it starts."""
    interval = Interval(resolve(start, tz), resolve(end, tz))
    if interval.end <= interval.start:
        raise ValueError(
            f"invalid {what}: it ends at {end.isoformat()}, not after its start {start.isoformat()};"
            " give an end later than the start"
        )
    return interval
