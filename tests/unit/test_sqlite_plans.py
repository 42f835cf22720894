"""Query plans of the SQLite store's hot statements: every read of a large table goes through an index.

The per-connection scratch tables have no statistics, so SQLite may otherwise pick a full scan of
``ci``, ``relationship``, ``impact_edge`` or ``version`` as the outer loop. The store has never run
``ANALYZE`` here, so these are the plans of a freshly created store.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cmdb.model import ChangeContext, CIInput, Direction, Origin, RelationshipInput
from cmdb.store import SQLiteStore

CONTEXT = ChangeContext(actor="tester", origin=Origin.CLI, request_id="req-plans")
LARGE_TABLES = {"ci", "relationship", "impact_edge", "version"}

# FROM or JOIN, a table (or a table-valued function call) and an optional alias.
_SOURCE = re.compile(
    r"\b(?:FROM|JOIN)\s+([\w.]+)(?:\([^)]*\))?"
    r"(?:\s+(?!ON\b|WHERE\b|CROSS\b|JOIN\b|ORDER\b|GROUP\b|LIMIT\b|UNION\b|SELECT\b)([a-z_]\w*))?"
)
_STEP = re.compile(r"^(SCAN|SEARCH) (\S+)")


def _cis() -> list[CIInput]:
    return [
        CIInput(key="site", ci_class="Location", name="site", attributes={"kind": "site"}),
        CIInput(key="room", ci_class="Location", name="room", attributes={"kind": "room"}),
        CIInput(key="sw", ci_class="NetworkDevice", name="sw"),
        CIInput(key="pair", ci_class="RedundancyGroup", name="pair", attributes={"min_healthy": 1}),
        CIInput(key="sw-b", ci_class="NetworkDevice", name="sw-b"),
        CIInput(key="pump", ci_class="MedicalDevice", name="pump", identifiers={"serial": "SN-1"}),
        CIInput(key="svc", ci_class="Service", name="svc", tags=["medication"]),
        CIInput(key="team", ci_class="Team", name="team", attributes={"notify_for_tags": ["medication"]}),
        CIInput(key="dept", ci_class="Department", name="dept"),
    ]


def _relationships(strength: str = "hard") -> list[RelationshipInput]:
    return [
        RelationshipInput(source="sw", type="MEMBER_OF", target="pair"),
        RelationshipInput(source="sw-b", type="MEMBER_OF", target="pair"),
        RelationshipInput(source="pump", type="CONNECTS_TO", target="sw", properties={"strength": strength}),
        RelationshipInput(source="pump", type="SUPPORTS", target="svc"),
        RelationshipInput(source="pump", type="LOCATED_IN", target="room"),
        RelationshipInput(source="room", type="LOCATED_IN", target="site"),
        RelationshipInput(source="pump", type="MANAGED_BY", target="team"),
        RelationshipInput(source="svc", type="OWNED_BY", target="dept"),
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "plans.sqlite3")
    opened.upsert_cis(_cis(), context=CONTEXT, strict=True)
    opened.upsert_relationships(_relationships(), context=CONTEXT, strict=True)
    try:
        yield opened
    finally:
        opened.close()


def _statements(store: SQLiteStore, call: Callable[[], object]) -> list[str]:
    """Run ``call`` and return the statements it executed, with their parameters bound."""
    executed: list[str] = []
    conn = store._connection()
    conn.set_trace_callback(executed.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    return [sql for sql in executed if sql.split(None, 1)[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}]


def _full_scans(conn: sqlite3.Connection, sql: str) -> list[str]:
    """Return the plan steps of ``sql`` that scan a large table instead of searching an index."""
    tables = {alias or name: name for name, alias in _SOURCE.findall(sql)}
    scans: list[str] = []
    for _id, _parent, _unused, detail in conn.execute(f"EXPLAIN QUERY PLAN {sql}"):
        step = _STEP.match(detail)
        if step and step.group(1) == "SCAN" and tables.get(step.group(2), step.group(2)) in LARGE_TABLES:
            scans.append(detail)
    return scans


def _large_table_searches(conn: sqlite3.Connection, sql: str) -> list[str]:
    tables = {alias or name: name for name, alias in _SOURCE.findall(sql)}
    return [
        detail
        for _id, _parent, _unused, detail in conn.execute(f"EXPLAIN QUERY PLAN {sql}")
        if (step := _STEP.match(detail))
        and step.group(1) == "SEARCH"
        and tables.get(step.group(2), step.group(2)) in LARGE_TABLES
    ]


HOT_CALLS: dict[str, Callable[[SQLiteStore], object]] = {
    "impact_closure": lambda store: store.impact_closure(["sw"]),
    "impact_context": lambda store: store.impact_context(["pump", "svc", "sw"]),
    "get_cis": lambda store: store.get_cis(["pump", "svc", "ghost"]),
    "relationships": lambda store: store.relationships("pump", direction=Direction.BOTH),
    "neighbours": lambda store: store.neighbours("pump", depth=3, direction=Direction.BOTH),
    "upsert_cis_create": lambda store: store.upsert_cis(
        [CIInput(key="new", ci_class="Server", name="new")], context=CONTEXT
    ),
    "upsert_cis_update": lambda store: store.upsert_cis(
        [CIInput(key="pump", ci_class="MedicalDevice", name="pump 2"), _cis()[1]], context=CONTEXT
    ),
    "upsert_relationships": lambda store: store.upsert_relationships(
        [*_relationships("soft"), RelationshipInput(source="sw-b", type="DEPENDS_ON", target="sw")],
        context=CONTEXT,
    ),
}


@pytest.mark.parametrize("name", sorted(HOT_CALLS))
def test_hot_statement_plans_use_indexes(store: SQLiteStore, name: str) -> None:
    statements = _statements(store, lambda: HOT_CALLS[name](store))
    conn = store._connection()

    assert statements
    for sql in statements:
        assert _full_scans(conn, sql) == [], sql


@pytest.mark.parametrize("name", ["impact_closure", "impact_context", "upsert_relationships"])
def test_scratch_joins_search_large_tables(store: SQLiteStore, name: str) -> None:
    """The joins of the scratch tables reach the large tables through an index search."""
    statements = _statements(store, lambda: HOT_CALLS[name](store))
    conn = store._connection()

    joined = [sql for sql in statements if "CROSS JOIN" in sql]
    assert joined
    for sql in joined:
        assert _large_table_searches(conn, sql), sql
