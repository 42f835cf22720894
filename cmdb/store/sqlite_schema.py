"""Schema of the SQLite store and its migrations, applied in order and tracked by ``PRAGMA user_version``.

To change the schema, append a step to ``MIGRATIONS``; never edit a step that has shipped,
because databases already at that version will not run it again.
"""

from __future__ import annotations

import logging
import sqlite3

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000

_INITIAL_SCHEMA = """
CREATE TABLE ci (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    ci_class TEXT NOT NULL,
    name TEXT NOT NULL,
    name_folded TEXT NOT NULL,  -- name.casefold(), for case-insensitive matching beyond ASCII
    status TEXT NOT NULL,
    criticality TEXT NOT NULL,
    identifiers TEXT NOT NULL,  -- JSON object, as cmdb.model.Identifiers
    attributes TEXT NOT NULL,   -- JSON object
    tags TEXT NOT NULL,         -- JSON array, sorted
    sources TEXT NOT NULL,      -- JSON object: attribute name -> origin of its last write
    version INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX ci_class_key ON ci (ci_class, key);
CREATE INDEX ci_name_folded ON ci (name_folded);

CREATE TABLE ci_identifier (
    ci_id INTEGER NOT NULL REFERENCES ci (id),
    kind TEXT NOT NULL,   -- serial, mac, ip, hostname, udi_di, asset_tag
    value TEXT NOT NULL,  -- normalised as cmdb.model.Identifiers stores it
    PRIMARY KEY (ci_id, kind, value)
) WITHOUT ROWID;
CREATE INDEX ci_identifier_lookup ON ci_identifier (kind, value);

CREATE TABLE ci_tag (
    ci_id INTEGER NOT NULL REFERENCES ci (id),
    tag TEXT NOT NULL,
    PRIMARY KEY (ci_id, tag)
) WITHOUT ROWID;
CREATE INDEX ci_tag_lookup ON ci_tag (tag, ci_id);

CREATE TABLE relationship (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES ci (id),
    type TEXT NOT NULL,
    target_id INTEGER NOT NULL REFERENCES ci (id),
    properties TEXT NOT NULL,  -- JSON object
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    ended_at TEXT,             -- set when the relationship no longer exists; never deleted
    UNIQUE (source_id, type, target_id)
);
CREATE INDEX relationship_target ON relationship (target_id, type);

-- The way impact flows along each live relationship of a type that carries impact.
-- A row exists exactly while its relationship is live (ended_at IS NULL).
CREATE TABLE impact_edge (
    relationship_id INTEGER PRIMARY KEY REFERENCES relationship (id),
    from_id INTEGER NOT NULL REFERENCES ci (id),
    to_id INTEGER NOT NULL REFERENCES ci (id),
    type TEXT NOT NULL,
    strength TEXT  -- hard or soft; NULL for MEMBER_OF, whose group follows its quorum
);
CREATE INDEX impact_edge_from ON impact_edge (from_id, to_id);
CREATE INDEX impact_edge_to ON impact_edge (to_id, type);

CREATE TABLE version (
    id INTEGER PRIMARY KEY,
    entity TEXT NOT NULL CHECK (entity IN ('ci', 'relationship')),
    entity_key TEXT NOT NULL,  -- CI key, or "source|TYPE|target" for a relationship
    ci_id INTEGER NOT NULL REFERENCES ci (id),  -- the CI, or the relationship's source
    version INTEGER NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('create', 'update', 'retire', 'end')),
    snapshot TEXT NOT NULL,    -- JSON object: the entity as written
    actor TEXT NOT NULL,
    origin TEXT NOT NULL,
    request_id TEXT,
    change_id TEXT,
    valid_from TEXT NOT NULL,
    valid_to TEXT,             -- NULL for the current version
    UNIQUE (entity, entity_key, version)
);
CREATE INDEX version_ci ON version (ci_id, id);
CREATE INDEX version_current ON version (entity, entity_key) WHERE valid_to IS NULL;
CREATE INDEX version_change ON version (change_id) WHERE change_id IS NOT NULL;

CREATE TABLE api_token (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    actor TEXT NOT NULL,
    roles TEXT NOT NULL,  -- JSON array
    created_at TEXT NOT NULL
);
"""

# Change management: change records, freeze windows, approvals, freeze exceptions and reviews.
# Times are ISO 8601 instants in UTC; documents are JSON objects as cmdb.changes stores them.
_CHANGE_MANAGEMENT = """
CREATE TABLE change_record (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX change_record_state ON change_record (state, window_start);

CREATE TABLE freeze_window (
    id TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE approval (
    id INTEGER PRIMARY KEY,
    change_id TEXT NOT NULL REFERENCES change_record (id),
    role TEXT NOT NULL,
    actor TEXT NOT NULL,
    comment TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (change_id, role)
);

CREATE TABLE freeze_exception (
    id INTEGER PRIMARY KEY,
    change_id TEXT NOT NULL REFERENCES change_record (id),
    window_id TEXT NOT NULL,
    occurrence_start TEXT NOT NULL,
    occurrence_end TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    reviewed_at TEXT  -- set when the change's post-implementation review is recorded
);
CREATE INDEX freeze_exception_change ON freeze_exception (change_id);

CREATE TABLE post_implementation_review (
    id INTEGER PRIMARY KEY,
    change_id TEXT NOT NULL REFERENCES change_record (id),
    actor TEXT NOT NULL,
    outcome TEXT NOT NULL,
    notes TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX post_implementation_review_change ON post_implementation_review (change_id);

CREATE INDEX version_valid_from ON version (valid_from);
"""

# Discovery run records and the checkpoint of `cmdb copy`. Earlier builds created both tables on
# first use, outside the migrations, so `IF NOT EXISTS` lets those databases migrate too.
_DISCOVERY_RUNS_AND_COPY_PROGRESS = """
CREATE TABLE IF NOT EXISTS discovery_run (
    id TEXT PRIMARY KEY,        -- sorts by start time, see cmdb.discovery.runs.new_run_id
    started_at TEXT NOT NULL,   -- ISO 8601 instant in UTC
    document TEXT NOT NULL      -- JSON object, as cmdb.discovery.runs.DiscoveryRun
);

CREATE TABLE IF NOT EXISTS copy_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),  -- one checkpoint per store
    source TEXT NOT NULL,       -- URL of the store copied from
    fingerprint TEXT NOT NULL,  -- cmdb.store.export.ExportSummary.fingerprint of the source
    phase TEXT NOT NULL,        -- one of cmdb.store.export.PHASES
    cursor TEXT,                -- last source key of the phase written, NULL at the phase start
    updated_at TEXT NOT NULL
);
"""

# Step N brings a database from user_version N to N + 1.
MIGRATIONS: list[str] = [_INITIAL_SCHEMA, _CHANGE_MANAGEMENT, _DISCOVERY_RUNS_AND_COPY_PROGRESS]

# Scratch tables of one connection, used by the set-based graph queries.
_TEMP_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS scratch_key (key TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS scratch_id (id INTEGER PRIMARY KEY);
"""


def connect(path: str) -> sqlite3.Connection:
    """Open a connection in autocommit mode with WAL, foreign keys and a busy timeout.

    Transactions are begun explicitly by the caller. ``check_same_thread`` is off only so that
    ``close`` may close every thread's connection; each connection is used by one thread.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(_TEMP_TABLES)
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations the database has not run yet, each in its own transaction.

    Return the schema version reached. Raise RuntimeError when the database is newer than
    this code, so an old build never writes to a schema it does not know.
    """
    (current,) = conn.execute("PRAGMA user_version").fetchone()
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {current} is newer than this build supports"
            f" ({len(MIGRATIONS)}); upgrade clinical-cmdb"
        )
    for step in range(current, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while this one waited for the lock.
            (now_at,) = conn.execute("PRAGMA user_version").fetchone()
            if now_at > step:
                conn.execute("COMMIT")
                continue
            for statement in _split_statements(MIGRATIONS[step]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        logger.info("migrated SQLite schema to version %s", step + 1)
    return len(MIGRATIONS)


def _split_statements(script: str) -> list[str]:
    """Split a script into complete statements; ``executescript`` would commit the open transaction."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements
