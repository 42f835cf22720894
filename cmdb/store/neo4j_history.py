"""History reads of the Neo4j store: the versions in force at an instant.

``:Version`` nodes store ``valid_from`` and ``valid_to`` as Neo4j DateTime values, so the
interval test compares instants whatever the UTC offset of ``at``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from neo4j import ManagedTransaction

from cmdb.model import VersionRecord
from cmdb.store.neo4j_rows import version_record

# A range index on valid_from serves the lower bound of the interval test.
SCHEMA_STATEMENTS = ("CREATE INDEX version_valid_from IF NOT EXISTS FOR (v:Version) ON (v.valid_from)",)

_VERSIONS_AS_OF = """
MATCH (v:Version)
WHERE v.valid_from <= $at AND (v.valid_to IS NULL OR $at < v.valid_to)
RETURN collect(properties(v)) AS versions
"""


def utc_instant(at: datetime) -> datetime:
    """Return ``at`` in UTC; raise ValueError for a datetime without a time zone."""
    if at.tzinfo is None:
        raise ValueError(f"invalid instant {at.isoformat()}: give a time zone or UTC offset")
    return at.astimezone(UTC)


def versions_as_of(tx: ManagedTransaction, at: datetime) -> list[VersionRecord]:
    """Return the versions whose [valid_from, valid_to) contains ``at``, by entity and key."""
    row = tx.run(_VERSIONS_AS_OF, at=utc_instant(at)).single()
    properties = row["versions"] if row is not None else []
    # Sorted in Python, so keys order by code point as SQLite's binary collation orders them.
    return sorted((version_record(p) for p in properties), key=lambda v: (v.entity, v.key))
