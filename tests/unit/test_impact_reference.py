"""The impact engine on the reference hospital, with no store: every field of the expected answers."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.impact import PriorityMatrix, propagate, summarize
from tests.reference import (
    expected_answers,
    hospital_closure,
    impact_flow_pairs,
    load_hospital,
    path_problems,
    request_for,
    scenarios,
    without_paths,
)

_, RELATIONSHIPS = load_hospital()
EXPECTED = expected_answers()


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: str(s["name"]))
def test_engine_matches_reference_answer(scenario: dict[str, Any]) -> None:
    closure, context = hospital_closure()
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
