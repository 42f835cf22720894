"""The six reference impact scenarios, run through the impact engine over each store."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.impact import analyze
from cmdb.store.base import GraphStore
from tests.reference import (
    expected_answers,
    impact_flow_pairs,
    load_hospital,
    path_problems,
    request_for,
    scenarios,
    without_paths,
)

EXPECTED = expected_answers()


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: str(s["name"]))
def test_scenario_matches_expected(hospital: GraphStore, scenario: dict[str, Any]) -> None:
    report = analyze(store=hospital, request=request_for(scenario))

    answer = report.to_expected_shape()

    assert without_paths(answer) == without_paths(EXPECTED[scenario["name"]])


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: str(s["name"]))
def test_scenario_paths_are_shortest_chains(hospital: GraphStore, scenario: dict[str, Any]) -> None:
    _, relationships = load_hospital()
    report = analyze(store=hospital, request=request_for(scenario))

    problems = path_problems(
        report.to_expected_shape(), set(scenario["roots"]), impact_flow_pairs(relationships)
    )

    assert problems == []


def test_scenarios_cover_every_expected_answer() -> None:
    assert {s["name"] for s in scenarios()} == set(EXPECTED)
