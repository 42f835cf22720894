"""Graph reads: neighbours by depth, direction and type; the impact closure and its context."""

from __future__ import annotations

import pytest

from cmdb.model import ChangeContext, Direction, Status, Strength
from cmdb.store.base import CINotFoundError, GraphStore
from tests.conformance.factories import ci, rel


@pytest.fixture
def chain(store: GraphStore, context: ChangeContext) -> GraphStore:
    """a → b → c → d by DEPENDS_ON, d → a closing a cycle, x FEEDS a, a MANAGED_BY team."""
    store.upsert_cis(
        [ci(key, "Application") for key in ("a", "b", "c", "d", "x")] + [ci("team", "Team")],
        context=context,
    )
    store.upsert_relationships(
        [
            rel("a", "DEPENDS_ON", "b"),
            rel("b", "DEPENDS_ON", "c"),
            rel("c", "DEPENDS_ON", "d"),
            rel("d", "DEPENDS_ON", "a"),
            rel("x", "FEEDS", "a"),
            rel("a", "MANAGED_BY", "team"),
        ],
        context=context,
        strict=True,
    )
    return store


def _reach(
    store: GraphStore, key: str, depth: int, direction: Direction, types: tuple[str, ...] = ()
) -> list[tuple[str, int]]:
    return [
        (n.ci.key, n.distance) for n in store.neighbours(key, depth=depth, direction=direction, types=types)
    ]


def test_neighbours_outgoing_by_depth(chain: GraphStore) -> None:
    assert _reach(chain, "a", 1, Direction.OUTGOING) == [("b", 1), ("team", 1)]
    assert _reach(chain, "a", 2, Direction.OUTGOING) == [("b", 1), ("team", 1), ("c", 2)]
    assert _reach(chain, "a", 10, Direction.OUTGOING) == [("b", 1), ("team", 1), ("c", 2), ("d", 3)]


def test_neighbours_incoming(chain: GraphStore) -> None:
    assert _reach(chain, "a", 1, Direction.INCOMING) == [("d", 1), ("x", 1)]
    assert _reach(chain, "a", 2, Direction.INCOMING) == [("d", 1), ("x", 1), ("c", 2)]


def test_neighbours_both_nearest_first(chain: GraphStore) -> None:
    assert _reach(chain, "a", 1, Direction.BOTH) == [("b", 1), ("d", 1), ("team", 1), ("x", 1)]
    assert _reach(chain, "a", 2, Direction.BOTH) == [("b", 1), ("d", 1), ("team", 1), ("x", 1), ("c", 2)]
    assert _reach(chain, "team", 2, Direction.BOTH) == [("a", 1), ("b", 2), ("d", 2), ("x", 2)]


def test_neighbours_by_type(chain: GraphStore) -> None:
    assert _reach(chain, "a", 10, Direction.BOTH, ("FEEDS",)) == [("x", 1)]
    assert _reach(chain, "x", 10, Direction.OUTGOING, ("FEEDS", "DEPENDS_ON")) == [
        ("a", 1),
        ("b", 2),
        ("c", 3),
        ("d", 4),
    ]


def test_neighbours_exclude_start_in_cycle(chain: GraphStore) -> None:
    keys = [key for key, _ in _reach(chain, "b", 10, Direction.OUTGOING, ("DEPENDS_ON",))]

    assert keys == ["c", "d", "a"]


def test_neighbours_return_records(chain: GraphStore) -> None:
    [first] = chain.neighbours("x", depth=1, direction=Direction.OUTGOING)

    assert first.ci.ci_class == "Application"
    assert first.ci.version == 1


@pytest.mark.parametrize("depth", [0, -1, 11])
def test_neighbours_invalid_depth_raises(chain: GraphStore, depth: int) -> None:
    with pytest.raises(ValueError, match="depth"):
        chain.neighbours("a", depth=depth, direction=Direction.BOTH)


def test_neighbours_unknown_ci_raises(chain: GraphStore) -> None:
    with pytest.raises(CINotFoundError):
        chain.neighbours("ghost", depth=1, direction=Direction.BOTH)


@pytest.fixture
def cluster(store: GraphStore, context: ChangeContext) -> GraphStore:
    """A switch feeding two of three cluster members, an app on the cluster, and retired parts."""
    store.upsert_cis(
        [
            ci("sw", "NetworkDevice"),
            ci("host-a"),
            ci("host-b"),
            ci("host-c"),
            ci("host-d", status=Status.RETIRED),
            ci("grp", "RedundancyGroup", attributes={"min_healthy": 2}),
            ci("app", "Application"),
            ci("app-c", "Application"),
            ci("app-old", "Application", status=Status.RETIRED),
            ci("app-next", "Application", status=Status.PLANNED),
            ci("behind-old", "Application"),
            ci("behind-next", "Application"),
            ci("svc", "Service"),
            ci("room", "Location"),
        ],
        context=context,
    )
    store.upsert_relationships(
        [
            rel("host-a", "CONNECTS_TO", "sw"),
            rel("host-b", "CONNECTS_TO", "sw", strength="soft"),
            rel("host-a", "MEMBER_OF", "grp"),
            rel("host-b", "MEMBER_OF", "grp"),
            rel("host-c", "MEMBER_OF", "grp"),
            rel("host-d", "MEMBER_OF", "grp"),
            rel("app-c", "RUNS_ON", "host-c"),
            rel("app", "RUNS_ON", "grp"),
            rel("app-old", "RUNS_ON", "grp"),
            rel("app-next", "RUNS_ON", "grp"),
            rel("behind-old", "DEPENDS_ON", "app-old"),
            rel("behind-next", "DEPENDS_ON", "app-next"),
            rel("app", "SUPPORTS", "svc"),
            rel("sw", "LOCATED_IN", "room"),
        ],
        context=context,
        strict=True,
    )
    return store


def test_closure_nodes_include_group_members(cluster: GraphStore) -> None:
    closure = cluster.impact_closure(["sw"])

    assert set(closure.nodes) == {"sw", "host-a", "host-b", "host-c", "grp", "app", "svc"}


def test_closure_edges_point_the_way_impact_flows(cluster: GraphStore) -> None:
    closure = cluster.impact_closure(["sw"])

    edges = {(e.source, e.target, e.type, e.strength) for e in closure.edges}
    assert edges == {
        ("sw", "host-a", "CONNECTS_TO", Strength.HARD),
        ("sw", "host-b", "CONNECTS_TO", Strength.SOFT),
        ("host-a", "grp", "MEMBER_OF", None),
        ("host-b", "grp", "MEMBER_OF", None),
        ("host-c", "grp", "MEMBER_OF", None),
        ("grp", "app", "RUNS_ON", Strength.HARD),
        ("app", "svc", "SUPPORTS", Strength.SOFT),
    }
    assert len(closure.edges) == len(edges)


def test_closure_nodes_carry_impact_fields(cluster: GraphStore) -> None:
    closure = cluster.impact_closure(["sw"])

    group = closure.nodes["grp"]
    assert (group.key, group.ci_class, group.status) == ("grp", "RedundancyGroup", Status.IN_SERVICE)
    assert group.attributes == {"min_healthy": 2}


def test_closure_from_member_reaches_group(cluster: GraphStore) -> None:
    closure = cluster.impact_closure(["host-c"])

    assert set(closure.nodes) == {"host-c", "app-c", "grp", "host-a", "host-b", "app", "svc"}


def test_closure_skips_retired_and_planned(cluster: GraphStore, context: ChangeContext) -> None:
    cluster.retire_ci("host-b", expected_version=None, context=context)

    closure = cluster.impact_closure(["sw"])

    assert set(closure.nodes) == {"sw", "host-a", "host-c", "grp", "app", "svc"}
    assert all("host-b" not in (e.source, e.target) for e in closure.edges)


def test_closure_of_retired_root_is_empty(cluster: GraphStore) -> None:
    closure = cluster.impact_closure(["app-old"])

    assert closure.nodes == {}
    assert closure.edges == []


def test_closure_of_unknown_root_is_empty(cluster: GraphStore) -> None:
    closure = cluster.impact_closure(["ghost"])

    assert closure.nodes == {}


def test_closure_of_several_roots(cluster: GraphStore) -> None:
    closure = cluster.impact_closure(["app", "app-c"])

    assert set(closure.nodes) == {"app", "svc", "app-c"}


@pytest.fixture
def placed(store: GraphStore, context: ChangeContext) -> GraphStore:
    """A pump in a bed up a chain of locations, a service with teams and owner, notify teams."""
    store.upsert_cis(
        [
            ci("site", "Location", attributes={"kind": "site"}),
            ci("floor", "Location", attributes={"kind": "floor"}),
            ci("room", "Location", attributes={"kind": "room"}),
            ci("bed", "Location", attributes={"kind": "bed"}),
            ci("pump", "MedicalDevice"),
            ci("svc", "Service", tags=["medication"]),
            ci("dept", "Department"),
            ci("team-biomed", "Team"),
            ci("team-x", "Team"),
            ci("team-clin", "Team", attributes={"notify_for_tags": ["medication"]}),
            ci("team-quiet", "Team", attributes={"notify_for_tags": []}),
            ci("elsewhere", "Location"),
        ],
        context=context,
    )
    store.upsert_relationships(
        [
            rel("pump", "LOCATED_IN", "bed"),
            rel("bed", "LOCATED_IN", "room"),
            rel("room", "LOCATED_IN", "floor"),
            rel("floor", "LOCATED_IN", "site"),
            rel("pump", "MANAGED_BY", "team-biomed"),
            rel("svc", "MANAGED_BY", "team-x"),
            rel("svc", "OWNED_BY", "dept"),
            rel("pump", "SUPPORTS", "svc"),
        ],
        context=context,
        strict=True,
    )
    return store


def test_context_follows_location_chain(placed: GraphStore) -> None:
    context = placed.impact_context(["pump", "svc"])

    assert context.located_in == {"pump": ["bed"], "bed": ["room"], "room": ["floor"], "floor": ["site"]}


def test_context_teams_and_owners(placed: GraphStore) -> None:
    context = placed.impact_context(["pump", "svc"])

    assert context.managed_by == {"pump": ["team-biomed"], "svc": ["team-x"]}
    assert context.owned_by == {"svc": ["dept"]}
    assert [team.key for team in context.notify_teams] == ["team-clin"]
    assert context.notify_teams[0].attributes["notify_for_tags"] == ["medication"]


def test_context_nodes_cover_named_cis(placed: GraphStore) -> None:
    context = placed.impact_context(["pump", "svc"])

    assert set(context.nodes) == {
        "bed",
        "room",
        "floor",
        "site",
        "team-biomed",
        "team-x",
        "dept",
        "team-clin",
    }
    assert context.nodes["site"].ci_class == "Location"


def test_closure_of_diamond_lattice(store: GraphStore, context: ChangeContext) -> None:
    """Forty layers of two CIs, each depending on both CIs below: 2**40 paths, 80 CIs."""
    layers = 40
    store.upsert_cis(
        [ci(f"n{layer:02d}-{side}") for layer in range(layers) for side in "ab"], context=context
    )
    store.upsert_relationships(
        [
            rel(f"n{layer + 1:02d}-{upper}", "DEPENDS_ON", f"n{layer:02d}-{lower}")
            for layer in range(layers - 1)
            for upper in "ab"
            for lower in "ab"
        ],
        context=context,
        strict=True,
    )

    closure = store.impact_closure(["n00-a"])
    deepest = store.neighbours("n00-a", depth=10, direction=Direction.BOTH)

    assert len(closure.nodes) == 2 * layers - 1
    assert len(closure.edges) == 4 * (layers - 1) - 2
    assert max(n.distance for n in deepest) == 10
