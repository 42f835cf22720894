"""Baselines in plain sqlite3: the closure as one recursive CTE, and inserts with executemany."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from cmdb.model import CIInput, RelationshipInput

# The same CTE shape the store uses, with nothing around it: no status filter, no group
# members, no node or edge rows beyond the keys reached.
_CLOSURE_SQL = """
WITH RECURSIVE reached(id) AS (
    SELECT id FROM ci WHERE key IN ({roots})
    UNION
    SELECT e.to_id FROM reached JOIN impact_edge e ON e.from_id = reached.id
)
SELECT ci.key FROM reached JOIN ci ON ci.id = reached.id
"""


def open_readonly(path: str) -> sqlite3.Connection:
    """Open the store's file for reading with plain sqlite3."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)


def closure_keys(conn: sqlite3.Connection, roots: Sequence[str]) -> list[str]:
    """Return the keys of every CI the impact edges reach from ``roots``, roots included."""
    sql = _CLOSURE_SQL.format(roots=", ".join("?" * len(roots)))
    return [key for (key,) in conn.execute(sql, list(roots))]


_RAW_SCHEMA = """
CREATE TABLE ci (
    key TEXT PRIMARY KEY,
    ci_class TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    criticality TEXT NOT NULL,
    identifiers TEXT NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL
);
CREATE TABLE relationship (
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    target TEXT NOT NULL,
    properties TEXT NOT NULL,
    PRIMARY KEY (source, type, target)
);
"""


def insert_raw(
    path: str, cis: Sequence[CIInput], relationships: Sequence[RelationshipInput], *, batch_size: int
) -> None:
    """Insert the rows into fresh key-value tables with executemany, one transaction per batch.

    The connection uses the store's pragmas (WAL, synchronous NORMAL), and the JSON encoding of each
    row is part of the work, so only validation, versions, identifiers and impact edges are left out.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(_RAW_SCHEMA)
        for start in range(0, len(cis), batch_size):
            rows = [
                (
                    ci.key,
                    ci.ci_class,
                    ci.name,
                    ci.status.value,
                    ci.criticality.value,
                    ci.identifiers.model_dump_json(),
                    json.dumps(ci.attributes),
                    json.dumps(ci.tags),
                )
                for ci in cis[start : start + batch_size]
            ]
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO ci VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        for start in range(0, len(relationships), batch_size):
            rel_rows = [
                (rel.source, rel.type, rel.target, json.dumps(rel.properties))
                for rel in relationships[start : start + batch_size]
            ]
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO relationship VALUES (?, ?, ?, ?)", rel_rows)
            conn.execute("COMMIT")
    finally:
        conn.close()
