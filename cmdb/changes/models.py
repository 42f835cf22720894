"""Change records and freeze windows as documents: parsing and validation of their fields."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from cmdb.changes.approvals import ChangeType
from cmdb.changes.clock import Interval, local_window, parse_local, zone
from cmdb.changes.errors import ChangeValidationError
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


@contextmanager
def invalid_field(name: str, value: object) -> Iterator[None]:
    """Re-raise a ValueError of the block as a ChangeValidationError on field ``name`` with ``value``."""
    try:
        yield
    except ChangeValidationError:
        raise
    except ValueError as error:
        raise ChangeValidationError(str(error), field=name, value=value) from None


def _enum(enum: type[StrEnum], value: object, what: str, name: str) -> Any:
    allowed = ", ".join(member.value for member in enum)
    if not isinstance(value, str) or value not in {member.value for member in enum}:
        raise ChangeValidationError(
            f"invalid {what} {value!r}; use one of: {allowed}", field=name, value=value
        )
    return enum(value)


def _parse_local(text: str, name: str, what: str) -> datetime:
    with invalid_field(name, text):
        return parse_local(text, what)


def parse_change(document: Mapping[str, Any], *, time_zone: str) -> ChangeRecord:
    """Build a change record from a document such as an entry of a changes file.

    Raise ChangeValidationError (a ValueError) naming the invalid field, relative
    to the document, and its value.
    """
    change_id = document.get("id")
    if not isinstance(change_id, str) or not change_id.strip():
        raise ChangeValidationError(
            f"change without an id: {dict(document)!r}; give each change an id", field="id", value=change_id
        )
    window = document.get("window")
    if not (
        isinstance(window, list | tuple) and len(window) == 2 and all(isinstance(w, str) for w in window)
    ):
        raise ChangeValidationError(
            f"change {change_id}: window {window!r} must be [start, end] local times",
            field="window",
            value=window,
        )
    touches_raw = document.get("touches") or []
    if not isinstance(touches_raw, list):
        raise ChangeValidationError(
            f"change {change_id}: 'touches' must be a list of {{'ci': KEY, 'set': {{...}}}}",
            field="touches",
            value=touches_raw,
        )
    touches: list[Touch] = []
    for index, touch in enumerate(touches_raw):
        if not isinstance(touch, Mapping) or not isinstance(touch.get("ci"), str):
            raise ChangeValidationError(
                f"change {change_id}: invalid touch {touch!r}; write {{'ci': KEY, 'set': {{...}}}}",
                field=f"touches.{index}",
                value=touch,
            )
        set_values = touch.get("set") or {}
        if not isinstance(set_values, Mapping):
            raise ChangeValidationError(
                f"change {change_id}: 'set' of {touch['ci']} must be an object",
                field=f"touches.{index}.set",
                value=set_values,
            )
        touches.append(Touch(touch["ci"], dict(set_values)))
    tz_name = document.get("time_zone", time_zone)
    with invalid_field("time_zone", tz_name):
        zone(tz_name)
    start = _parse_local(window[0], "window.0", f"start of change {change_id}")
    end = _parse_local(window[1], "window.1", f"end of change {change_id}")
    with invalid_field("window", window[1]):
        local_window(start, end, zone(tz_name), f"window of change {change_id}")
    return ChangeRecord(
        id=change_id,
        type=_enum(ChangeType, document.get("type", "normal"), f"type of change {change_id}", "type"),
        state=_enum(ChangeState, document.get("state", "draft"), f"state of change {change_id}", "state"),
        time_zone=tz_name,
        window_start=window[0],
        window_end=window[1],
        implementer=str(document.get("implementer", "")),
        touches=tuple(touches),
        external_id=document.get("external_id"),
        title=str(document.get("title", "")),
    )


def parse_freeze_window(document: Mapping[str, Any], *, time_zone: str) -> FreezeWindow:
    """Build a freeze window from a document with an RRULE and duration, or a one-off start and end.

    Raise ChangeValidationError (a ValueError) naming the invalid field, relative
    to the document, and its value.
    """
    window_id = document.get("id")
    if not isinstance(window_id, str) or not window_id.strip():
        raise ChangeValidationError(
            f"freeze window without an id: {dict(document)!r}; give each window an id",
            field="id",
            value=window_id,
        )
    tz_name = document.get("time_zone", time_zone)
    with invalid_field("time_zone", tz_name):
        zone(tz_name)
    start = _parse_local(str(document.get("start", "")), "start", f"start of freeze window {window_id}")
    end_text = document.get("end")
    end = _parse_local(str(end_text), "end", f"end of freeze window {window_id}") if end_text else None
    duration_minutes = document.get("duration_minutes")
    duration = None
    if duration_minutes is not None:
        if (
            not isinstance(duration_minutes, int)
            or isinstance(duration_minutes, bool)
            or duration_minutes <= 0
        ):
            raise ChangeValidationError(
                f"invalid duration_minutes {duration_minutes!r} on freeze window {window_id};"
                " give a positive number of minutes",
                field="duration_minutes",
                value=duration_minutes,
            )
        duration = timedelta(minutes=duration_minutes)
    scope = document.get("scope") or []
    if not scope or not isinstance(scope, list) or not all(isinstance(item, str) for item in scope):
        raise ChangeValidationError(
            f"invalid scope {scope!r} on freeze window {window_id}; give a list of one or more CI keys",
            field="scope",
            value=scope,
        )
    rrule = document.get("rrule")
    if rrule is not None and duration is None:
        raise ChangeValidationError(
            f"freeze window {window_id!r}: a recurring window needs duration_minutes",
            field="duration_minutes",
        )
    if rrule is None and end is None:
        raise ChangeValidationError(
            f"freeze window {window_id!r}: give an RRULE with duration_minutes, or a one-off end",
            field="end",
        )
    # What remains for FreezeWindow to reject is the RRULE itself, or an end that conflicts with it.
    blamed = ("rrule", rrule) if rrule is not None and end is None else ("end", end_text)
    with invalid_field(*blamed):
        return FreezeWindow(
            id=window_id,
            name=str(document.get("name", window_id)),
            scope=tuple(scope),
            enforcement=_enum(
                Enforcement, document.get("enforcement", "hard"), f"enforcement of {window_id}", "enforcement"
            ),
            time_zone=tz_name,
            start=start,
            rrule=rrule,
            duration=duration,
            end=end,
        )
