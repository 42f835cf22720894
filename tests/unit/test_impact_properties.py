"""Properties of impact propagation on random graphs with cycles and redundancy groups."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from cmdb.impact import ImpactRequest, ImpactState, Mode, propagate
from cmdb.model import Criticality, Status, Strength
from cmdb.store.base import ImpactClosure, ImpactEdge, ImpactNode

CARRY_TYPES = ("DEPENDS_ON", "FEEDS", "SUPPORTS")


@st.composite
def closures(draw: st.DrawFn) -> ImpactClosure:
    """Draw a graph of up to 14 CIs, some of them groups, with arbitrary edges and cycles."""
    size = draw(st.integers(min_value=2, max_value=14))
    group_flags = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    nodes: dict[str, ImpactNode] = {}
    for index, is_group in enumerate(group_flags):
        key = f"n{index}"
        attributes: dict[str, object] = {}
        if is_group:
            attributes["min_healthy"] = draw(st.integers(min_value=1, max_value=3))
        nodes[key] = ImpactNode(
            key,
            "RedundancyGroup" if is_group else "Server",
            key,
            Status.IN_SERVICE,
            Criticality.PATIENT_CARE,
            (),
            attributes,
        )
    keys = sorted(nodes)
    edges: list[ImpactEdge] = []
    pairs = draw(
        st.lists(st.tuples(st.sampled_from(keys), st.sampled_from(keys)), max_size=size * 3, unique=True)
    )
    for source, target in pairs:
        if source == target:
            continue
        if nodes[target].ci_class == "RedundancyGroup" and draw(st.booleans()):
            edges.append(ImpactEdge(source, target, "MEMBER_OF", None))
        else:
            strength = draw(st.sampled_from([Strength.HARD, Strength.SOFT]))
            edges.append(ImpactEdge(source, target, draw(st.sampled_from(CARRY_TYPES)), strength))
    return ImpactClosure(nodes=nodes, edges=edges)


@st.composite
def requests(draw: st.DrawFn, closure: ImpactClosure) -> ImpactRequest:
    keys = sorted(closure.nodes)
    roots = draw(st.dictionaries(st.sampled_from(keys), st.sampled_from(list(Mode)), min_size=1, max_size=3))
    overrides = draw(st.frozensets(st.sampled_from(keys), max_size=2))
    incidents = draw(
        st.dictionaries(
            st.sampled_from(keys),
            st.sampled_from([ImpactState.DOWN, ImpactState.DEGRADED, ImpactState.AT_RISK]),
            max_size=2,
        )
    )
    return ImpactRequest(roots=roots, overrides=overrides, open_incidents=incidents, urgency=2)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_override_never_impacted(data: st.DataObject) -> None:
    closure = data.draw(closures())
    request = data.draw(requests(closure))

    result = propagate(closure, request)

    for key in request.overrides:
        assert key not in result.reached
        assert result.states.get(key, ImpactState.OK) is ImpactState.OK


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_states_monotone_in_roots(data: st.DataObject) -> None:
    closure = data.draw(closures())
    request = data.draw(requests(closure))
    extra_key = data.draw(st.sampled_from(sorted(closure.nodes)))
    extra_mode = data.draw(st.sampled_from(list(Mode)))
    more_roots = dict(request.roots)
    more_roots[extra_key] = max(
        more_roots.get(extra_key, extra_mode), extra_mode, key=lambda mode: mode.state
    )
    larger = ImpactRequest(
        roots=more_roots,
        overrides=request.overrides,
        open_incidents=request.open_incidents,
        urgency=request.urgency,
    )

    smaller_states = propagate(closure, request).states
    larger_states = propagate(closure, larger).states

    for key in closure.nodes:
        before = smaller_states.get(key, ImpactState.OK)
        after = larger_states.get(key, ImpactState.OK)
        assert after >= before, f"{key} went from {before.name} to {after.name}"


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_impacted_chains_are_consistent(data: st.DataObject) -> None:
    """Every impacted CI is not OK, and its chain starts at a root with one step per unit of distance."""
    closure = data.draw(closures())
    request = data.draw(requests(closure))

    result = propagate(closure, request)

    edge_pairs = {(edge.source, edge.target) for edge in closure.edges}
    for key, step in result.reached.items():
        assert result.states[key] is not ImpactState.OK
        path, types = result.path(key)
        assert path[0] in request.roots
        assert len(path) == step.distance + 1
        assert len(types) == step.distance
        for before, after in itertools.pairwise(path):
            assert (before, after) in edge_pairs


def test_cycle_of_hard_dependencies_terminates() -> None:
    nodes = {
        key: ImpactNode(key, "Server", key, Status.IN_SERVICE, Criticality.BUSINESS)
        for key in ("a", "b", "c")
    }
    edges = [
        ImpactEdge("a", "b", "DEPENDS_ON", Strength.HARD),
        ImpactEdge("b", "c", "DEPENDS_ON", Strength.HARD),
        ImpactEdge("c", "a", "DEPENDS_ON", Strength.HARD),
    ]
    result = propagate(ImpactClosure(nodes, edges), ImpactRequest(roots={"b": Mode.DOWN}))

    assert {key: step.distance for key, step in result.reached.items()} == {"b": 0, "c": 1, "a": 2}


def test_open_incident_alone_reports_nothing() -> None:
    """A group losing quorum only through an open incident is not reported as impacted."""
    nodes = {
        "m1": ImpactNode("m1", "Server", "m1", Status.IN_SERVICE, Criticality.BUSINESS),
        "m2": ImpactNode("m2", "Server", "m2", Status.IN_SERVICE, Criticality.BUSINESS),
        "g": ImpactNode(
            "g", "RedundancyGroup", "g", Status.IN_SERVICE, Criticality.BUSINESS, (), {"min_healthy": 2}
        ),
        "app": ImpactNode("app", "Application", "app", Status.IN_SERVICE, Criticality.BUSINESS),
    }
    edges = [
        ImpactEdge("m1", "g", "MEMBER_OF", None),
        ImpactEdge("m2", "g", "MEMBER_OF", None),
        ImpactEdge("g", "app", "RUNS_ON", Strength.HARD),
    ]
    request = ImpactRequest(roots={"m2": Mode.DEGRADED}, open_incidents={"m1": ImpactState.DOWN})

    result = propagate(ImpactClosure(nodes, edges), request)

    assert result.states["g"] is ImpactState.DOWN
    assert set(result.reached) == {"m2"}


def test_retired_member_takes_no_part() -> None:
    nodes = {
        "m1": ImpactNode("m1", "Server", "m1", Status.IN_SERVICE, Criticality.BUSINESS),
        "m2": ImpactNode("m2", "Server", "m2", Status.RETIRED, Criticality.BUSINESS),
        "g": ImpactNode(
            "g", "RedundancyGroup", "g", Status.IN_SERVICE, Criticality.BUSINESS, (), {"min_healthy": 1}
        ),
    }
    edges = [ImpactEdge("m1", "g", "MEMBER_OF", None), ImpactEdge("m2", "g", "MEMBER_OF", None)]

    result = propagate(ImpactClosure(nodes, edges), ImpactRequest(roots={"m1": Mode.DOWN}))

    assert result.states["g"] is ImpactState.DOWN
    assert result.reached["g"].distance == 1


def test_location_cycle_counts_each_location_once() -> None:
    """A LOCATED_IN cycle is bad data; every location on it is still found, once."""
    from cmdb.impact.summary import LocationIndex
    from cmdb.store.base import ImpactContext

    nodes = {
        key: ImpactNode(key, "Location", key, Status.IN_SERVICE, Criticality.ADMINISTRATIVE)
        for key in ("room", "wing", "floor")
    }
    nodes["pump"] = ImpactNode("pump", "MedicalDevice", "pump", Status.IN_SERVICE, Criticality.LIFE_CRITICAL)
    located_in = {"pump": ["room"], "room": ["wing"], "wing": ["floor"], "floor": ["wing"]}
    index = LocationIndex(ImpactContext(located_in, {}, {}, [], nodes))

    assert index.above("pump") == {"room", "wing", "floor"}
    assert index.above("room") == {"wing", "floor"}
    assert index.above("floor") == {"wing", "floor"}


def test_collector_paused_nests_and_restores() -> None:
    import gc

    from cmdb.impact.service import collector_paused

    assert gc.isenabled()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_all_paths_equal_single_paths(data: st.DataObject) -> None:
    closure = data.draw(closures())
    request = data.draw(requests(closure))

    result = propagate(closure, request)

    every = result.all_paths()
    assert set(every) == set(result.reached)
    for key, (keys, types) in every.items():
        single_keys, single_types = result.path(key)
        assert list(keys) == single_keys
        assert list(types) == single_types
