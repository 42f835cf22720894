"""What the SQLite store writes to its tables: impact edges, current versions, lookups."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdb.model import ChangeContext, CIInput, Origin, RelationshipInput
from cmdb.store import SQLiteStore
from cmdb.store.base import RejectedRowsError

CONTEXT = ChangeContext(actor="tester", origin=Origin.CLI, request_id="req-t")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "cmdb.sqlite3")
    opened.upsert_cis(
        [
            CIInput(key="app", ci_class="Application", name="app"),
            CIInput(key="srv", ci_class="Server", name="srv"),
            CIInput(key="grp", ci_class="RedundancyGroup", name="grp"),
            CIInput(key="svc", ci_class="Service", name="svc"),
            CIInput(key="room", ci_class="Location", name="room"),
        ],
        context=CONTEXT,
    )
    try:
        yield opened
    finally:
        opened.close()


def _edges(store: SQLiteStore) -> set[tuple[str, str, str, str | None]]:
    rows = store._connection().execute(
        "SELECT f.key, t.key, e.type, e.strength FROM impact_edge e"
        " JOIN ci f ON f.id = e.from_id JOIN ci t ON t.id = e.to_id"
    )
    return set(rows)


def test_impact_edges_follow_flow(store: SQLiteStore) -> None:
    store.upsert_relationships(
        [
            RelationshipInput(source="app", type="RUNS_ON", target="srv"),
            RelationshipInput(source="srv", type="MEMBER_OF", target="grp"),
            RelationshipInput(source="app", type="SUPPORTS", target="svc", properties={"strength": "hard"}),
            RelationshipInput(source="srv", type="LOCATED_IN", target="room"),
        ],
        context=CONTEXT,
        strict=True,
    )

    assert _edges(store) == {
        ("srv", "app", "RUNS_ON", "hard"),
        ("srv", "grp", "MEMBER_OF", None),
        ("app", "svc", "SUPPORTS", "hard"),
    }


def test_one_current_version_per_entity(store: SQLiteStore) -> None:
    for name in ("first", "second", "third"):
        store.upsert_cis([CIInput(key="app", ci_class="Application", name=name)], context=CONTEXT)

    rows = store._connection().execute(
        "SELECT version, valid_to IS NULL FROM version WHERE entity_key = 'app' ORDER BY version"
    )

    assert list(rows) == [(1, 0), (2, 0), (3, 0), (4, 1)]


def test_lookup_rows_replaced_on_update(store: SQLiteStore) -> None:
    store.upsert_cis(
        [
            CIInput(
                key="srv",
                ci_class="Server",
                name="srv",
                identifiers={"serial": "A1", "ips": ["10.0.0.9"]},
                tags=["core"],
            )
        ],
        context=CONTEXT,
    )
    store.upsert_cis(
        [CIInput(key="srv", ci_class="Server", name="srv", identifiers={"serial": "B2"}, tags=["edge"])],
        context=CONTEXT,
    )
    conn = store._connection()

    identifiers = set(conn.execute("SELECT kind, value FROM ci_identifier"))
    tags = set(conn.execute("SELECT tag FROM ci_tag"))

    assert identifiers == {("serial", "B2")}
    assert tags == {("edge",)}


def test_rejected_strict_batch_leaves_no_rows(store: SQLiteStore) -> None:
    conn = store._connection()
    before = conn.execute("SELECT count(*) FROM version").fetchone()

    with pytest.raises(RejectedRowsError, match="ghost"):
        store.upsert_relationships(
            [
                RelationshipInput(source="app", type="RUNS_ON", target="srv"),
                RelationshipInput(source="app", type="RUNS_ON", target="ghost"),
            ],
            context=CONTEXT,
            strict=True,
        )

    assert conn.execute("SELECT count(*) FROM relationship").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM impact_edge").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM version").fetchone() == before
