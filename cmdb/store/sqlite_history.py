"""History reads of the SQLite store: the versions in force at an instant."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from cmdb.model import VersionRecord

VERSION_COLUMNS = (
    "entity, entity_key, version, operation, snapshot, actor, origin, request_id, change_id,"
    " valid_from, valid_to"
)


def version_record(row: tuple[object, ...]) -> VersionRecord:
    """Build a VersionRecord from a row selected with ``VERSION_COLUMNS``."""
    return VersionRecord(
        entity=str(row[0]),
        key=str(row[1]),
        version=int(str(row[2])),
        operation=str(row[3]),
        snapshot=json.loads(str(row[4])),
        actor=str(row[5]),
        origin=str(row[6]),
        request_id=None if row[7] is None else str(row[7]),
        change_id=None if row[8] is None else str(row[8]),
        valid_from=datetime.fromisoformat(str(row[9])),
        valid_to=None if row[10] is None else datetime.fromisoformat(str(row[10])),
    )


def versions_as_of(conn: sqlite3.Connection, at: datetime) -> list[VersionRecord]:
    """Return the versions whose [valid_from, valid_to) contains ``at``, by entity and key.

    The SQL filter compares ISO 8601 text and may keep a row at the boundary, so
    each interval is checked again on parsed instants.
    """
    if at.tzinfo is None:
        raise ValueError(f"invalid instant {at.isoformat()}: give a time zone or UTC offset")
    instant = at.astimezone(UTC)
    text = instant.isoformat()
    rows = conn.execute(
        f"SELECT {VERSION_COLUMNS} FROM version WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to >= ?)"
        " ORDER BY entity, entity_key",
        (text, text),
    ).fetchall()
    found: list[VersionRecord] = []
    for row in rows:
        record = version_record(row)
        if record.valid_from <= instant and (record.valid_to is None or instant < record.valid_to):
            found.append(record)
    return found
