"""Change records and freeze windows as documents: parsing and validation of their fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from cmdb.changes.approvals import ChangeType
from cmdb.changes.clock import Interval, local_window, parse_local, zone
from cmdb.changes.freeze import Enforcement, FreezeWindow


class ChangeState(StrEnum):
    """Lifecycle of a change record."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    IMPLEMENTED = "implemented"
    CLOSED = "closed"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Touch:
    """A CI a change touches and the attribute values it will set."""

    ci: str
    set_values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """A change: window as wall-clock times in ``time_zone``, touched CIs, implementer and state."""

    id: str
    type: ChangeType
    state: ChangeState
    time_zone: str
    window_start: str
    window_end: str
    implementer: str
    touches: tuple[Touch, ...]
    external_id: str | None = None
    title: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def window(self) -> Interval:
        tz = zone(self.time_zone)
        start = parse_local(self.window_start, f"start of change {self.id}")
        end = parse_local(self.window_end, f"end of change {self.id}")
        return local_window(start, end, tz, f"window of change {self.id}")

    def touched_keys(self) -> list[str]:
        return [touch.ci for touch in self.touches]


def _enum(enum: type[StrEnum], value: object, what: str) -> Any:
    allowed = ", ".join(member.value for member in enum)
    if not isinstance(value, str) or value not in {member.value for member in enum}:
        raise ValueError(f"invalid {what} {value!r}; use one of: {allowed}")
    return enum(value)


def parse_change(document: Mapping[str, Any], *, time_zone: str) -> ChangeRecord:
    """Build a change record from a document such as an entry of a changes file; raise ValueError."""
    change_id = document.get("id")
    if not isinstance(change_id, str) or not change_id.strip():
        raise ValueError(f"change without an id: {dict(document)!r}; give each change an id")
    window = document.get("window")
    if not (
        isinstance(window, list | tuple) and len(window) == 2 and all(isinstance(w, str) for w in window)
    ):
        raise ValueError(f"change {change_id}: window {window!r} must be [start, end] local times")
    touches_raw = document.get("touches") or []
    touches: list[Touch] = []
    for touch in touches_raw:
        if not isinstance(touch, Mapping) or not isinstance(touch.get("ci"), str):
            raise ValueError(
                f"change {change_id}: invalid touch {touch!r}; write {{'ci': KEY, 'set': {{...}}}}"
            )
        set_values = touch.get("set") or {}
        if not isinstance(set_values, Mapping):
            raise ValueError(f"change {change_id}: 'set' of {touch['ci']} must be an object")
        touches.append(Touch(touch["ci"], dict(set_values)))
    record = ChangeRecord(
        id=change_id,
        type=_enum(ChangeType, document.get("type", "normal"), f"type of change {change_id}"),
        state=_enum(ChangeState, document.get("state", "draft"), f"state of change {change_id}"),
        time_zone=document.get("time_zone", time_zone),
        window_start=window[0],
        window_end=window[1],
        implementer=str(document.get("implementer", "")),
        touches=tuple(touches),
        external_id=document.get("external_id"),
        title=str(document.get("title", "")),
    )
    record.window()
    return record


def parse_freeze_window(document: Mapping[str, Any], *, time_zone: str) -> FreezeWindow:
    """Build a freeze window from a document with an RRULE and duration, or a one-off start and end."""
    window_id = document.get("id")
    if not isinstance(window_id, str) or not window_id.strip():
        raise ValueError(f"freeze window without an id: {dict(document)!r}; give each window an id")
    tz_name = document.get("time_zone", time_zone)
    zone(tz_name)
    start = parse_local(str(document.get("start", "")), f"start of freeze window {window_id}")
    end_text = document.get("end")
    duration_minutes = document.get("duration_minutes")
    duration = None
    if duration_minutes is not None:
        if not isinstance(duration_minutes, int) or duration_minutes <= 0:
            raise ValueError(
                f"invalid duration_minutes {duration_minutes!r} on freeze window {window_id};"
                " give a positive number of minutes"
            )
        duration = timedelta(minutes=duration_minutes)
    scope = document.get("scope") or []
    if not isinstance(scope, list) or not all(isinstance(item, str) for item in scope):
        raise ValueError(f"invalid scope {scope!r} on freeze window {window_id}; give a list of CI keys")
    return FreezeWindow(
        id=window_id,
        name=str(document.get("name", window_id)),
        scope=tuple(scope),
        enforcement=_enum(Enforcement, document.get("enforcement", "hard"), f"enforcement of {window_id}"),
        time_zone=tz_name,
        start=start,
        rrule=document.get("rrule"),
        duration=duration,
        end=parse_local(end_text, f"end of freeze window {window_id}") if end_text else None,
    )
