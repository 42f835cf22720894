"""Call-graph imports into a real SQLite store, and impact analysis over them against a plain BFS."""

from __future__ import annotations

import csv
from collections import deque
from pathlib import Path

import pytest

from cmdb.impact import ImpactRequest, Mode, analyze
from cmdb.imports import ImportFormat, import_file
from cmdb.model import ChangeContext, Origin
from cmdb.store.base import GraphStore

CONTEXT = ChangeContext(actor="importer-test", origin=Origin.IMPORT)

# (file, distinct components, distinct call edges, roots to take DOWN), counted from the files.
GRAPHS = [
    ("trainticket.csv", 66, 155, ["ts-station-service", "ts-order-service", "ts-config-service"]),
    ("deathstarbench-hotelReservation.csv", 23, 31, ["consul", "mongodb-profile", "user"]),
    ("deathstarbench-mediaMicroservices.csv", 32, 40, ["movie-review-service", "cast-info-mongodb"]),
    ("deathstarbench-socialNetwork.csv", 25, 35, ["post-storage-service", "social-graph-redis"]),
]


def _callers_by_callee(path: Path) -> dict[str, set[str]]:
    callers: dict[str, set[str]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            callers.setdefault(row["callee"], set()).add(row["caller"])
    return callers


def _callers_reached(callers: dict[str, set[str]], root: str) -> set[str]:
    """Return ``root`` and every component that calls it directly or through others."""
    reached = {root}
    queue = deque([root])
    while queue:
        for caller in callers.get(queue.popleft(), set()):
            if caller not in reached:
                reached.add(caller)
                queue.append(caller)
    return reached


@pytest.mark.parametrize(("name", "components", "edges", "roots"), GRAPHS)
def test_graph_import_counts(
    sqlite_store: GraphStore, data_dir: Path, name: str, components: int, edges: int, roots: list[str]
) -> None:
    report = import_file(store=sqlite_store, path=data_dir / "app-graphs" / name, context=CONTEXT)

    assert report.format is ImportFormat.APP_GRAPH
    assert report.cis.added == components
    assert report.relationships.added == edges
    assert report.rejected == []
    assert sqlite_store.counts()["cis"] == components
    assert sqlite_store.counts()["relationships"] == edges


@pytest.mark.parametrize(("name", "components", "edges", "roots"), GRAPHS)
def test_impact_equals_reverse_bfs(
    sqlite_store: GraphStore, data_dir: Path, name: str, components: int, edges: int, roots: list[str]
) -> None:
    path = data_dir / "app-graphs" / name
    import_file(store=sqlite_store, path=path, context=CONTEXT, key_prefix="")
    callers = _callers_by_callee(path)

    for root in roots:
        report = analyze(store=sqlite_store, request=ImpactRequest(roots={root: Mode.DOWN}))

        assert {ci.key for ci in report.impacted} == _callers_reached(callers, root), root
        assert {ci.state for ci in report.impacted} == {"DOWN"}, root


def test_graph_reimport_unchanged(sqlite_store: GraphStore, data_dir: Path) -> None:
    path = data_dir / "app-graphs" / "trainticket.csv"
    import_file(store=sqlite_store, path=path, context=CONTEXT)

    again = import_file(store=sqlite_store, path=path, context=CONTEXT)

    assert (again.cis.unchanged, again.relationships.unchanged) == (66, 155)
    assert (again.cis.added + again.cis.updated, again.relationships.added + again.relationships.updated) == (
        0,
        0,
    )
