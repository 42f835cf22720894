"""Change records and freeze windows as the JSON documents a store keeps, and back."""

from __future__ import annotations

import dataclasses
from typing import Any

from cmdb.changes.freeze import FreezeWindow
from cmdb.changes.models import ChangeRecord, parse_change, parse_freeze_window
from cmdb.store.base import StoredChange, StoredFreezeWindow


def change_document(record: ChangeRecord) -> dict[str, Any]:
    """Return the change as a document shaped like an entry of a changes file, plus its details."""
    document: dict[str, Any] = {
        "id": record.id,
        "type": record.type.value,
        "state": record.state.value,
        "time_zone": record.time_zone,
        "window": [record.window_start, record.window_end],
        "implementer": record.implementer,
        "touches": [{"ci": touch.ci, "set": dict(touch.set_values)} for touch in record.touches],
        "title": record.title,
        "details": dict(record.details),
    }
    if record.external_id is not None:
        document["external_id"] = record.external_id
    return document


def to_stored_change(record: ChangeRecord) -> StoredChange:
    window = record.window()
    return StoredChange(
        id=record.id,
        state=record.state.value,
        window_start=window.start,
        window_end=window.end,
        document=change_document(record),
    )


def from_stored_change(stored: StoredChange) -> ChangeRecord:
    document = stored.document
    record = parse_change(document, time_zone=document["time_zone"])
    return dataclasses.replace(record, details=dict(document.get("details") or {}))


def freeze_window_document(window: FreezeWindow) -> dict[str, Any]:
    """Return the freeze window as a document shaped like an entry of a changes file."""
    document: dict[str, Any] = {
        "id": window.id,
        "name": window.name,
        "scope": list(window.scope),
        "enforcement": window.enforcement.value,
        "time_zone": window.time_zone,
        "start": window.start.isoformat(timespec="minutes"),
    }
    if window.rrule is not None and window.duration is not None:
        document["rrule"] = window.rrule
        document["duration_minutes"] = int(window.duration.total_seconds() // 60)
    if window.end is not None:
        document["end"] = window.end.isoformat(timespec="minutes")
    return document


def to_stored_freeze_window(window: FreezeWindow) -> StoredFreezeWindow:
    return StoredFreezeWindow(id=window.id, document=freeze_window_document(window))


def from_stored_freeze_window(stored: StoredFreezeWindow) -> FreezeWindow:
    return parse_freeze_window(stored.document, time_zone=stored.document["time_zone"])
