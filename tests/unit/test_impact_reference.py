"""The impact engine on the reference hospital, with no store: every field of the expected answers."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.impact import PriorityMatrix, propagate, summarize
from cmdb.model import RELATIONSHIP_TYPES, Flow, impact_strength
from cmdb.store.base import ImpactClosure, ImpactContext, ImpactEdge, ImpactNode
from tests.reference import (
    expected_answers,
    impact_flow_pairs,
    load_hospital,
    path_problems,
    request_for,
    scenarios,
    without_paths,
)

CIS, RELATIONSHIPS = load_hospital()
EXPECTED = expected_answers()


def _closure_and_context() -> tuple[ImpactClosure, ImpactContext]:
    """Build the whole hospital as one closure, the way a store would return it."""
    nodes = {
        ci.key: ImpactNode(
            ci.key, ci.ci_class, ci.name, ci.status, ci.criticality, tuple(ci.tags), ci.attributes
        )
        for ci in CIS
    }
    edges: list[ImpactEdge] = []
    links: dict[str, dict[str, list[str]]] = {"LOCATED_IN": {}, "MANAGED_BY": {}, "OWNED_BY": {}}
    for rel in RELATIONSHIPS:
        flow = RELATIONSHIP_TYPES[rel.type].flow
        strength = impact_strength(rel.type, rel.properties.get("strength"))
        if flow is Flow.TARGET_TO_SOURCE:
            edges.append(ImpactEdge(rel.target, rel.source, rel.type, strength))
        elif flow is not Flow.NONE:
            edges.append(ImpactEdge(rel.source, rel.target, rel.type, strength))
        else:
            links[rel.type].setdefault(rel.source, []).append(rel.target)
    notify_teams = [node for node in nodes.values() if node.attributes.get("notify_for_tags")]
    context = ImpactContext(
        located_in=links["LOCATED_IN"],
        managed_by=links["MANAGED_BY"],
        owned_by=links["OWNED_BY"],
        notify_teams=notify_teams,
        nodes=nodes,
    )
    return ImpactClosure(nodes=nodes, edges=edges), context


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: str(s["name"]))
def test_engine_matches_reference_answer(scenario: dict[str, Any]) -> None:
    closure, context = _closure_and_context()
    request = request_for(scenario)

    propagation = propagate(closure, request)
    report = summarize(
        request=request,
        closure=closure,
        propagation=propagation,
        context=context,
        matrix=PriorityMatrix(),
    ).to_expected_shape()

    expected = EXPECTED[scenario["name"]]
    assert without_paths(report) == without_paths(expected)
    assert path_problems(report, set(scenario["roots"]), impact_flow_pairs(RELATIONSHIPS)) == []


def test_reference_paths_are_shortest_chains() -> None:
    """The path checker accepts every path of the reference answers, so it is no stricter than they are."""
    for scenario in scenarios():
        expected = EXPECTED[scenario["name"]]
        assert path_problems(expected, set(scenario["roots"]), impact_flow_pairs(RELATIONSHIPS)) == []
