"""Helpers over the reference hospital: its scenarios, expected answers and path checks."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from cmdb.impact import ImpactRequest, ImpactState, Mode
from cmdb.model import RELATIONSHIP_TYPES, CIInput, Flow, RelationshipInput, impact_strength
from cmdb.store.base import ImpactClosure, ImpactContext, ImpactEdge, ImpactNode

HOSPITAL_DIR = Path(__file__).parent / "data" / "hospital-small"


def load_hospital() -> tuple[list[CIInput], list[RelationshipInput]]:
    """Return the reference hospital's CIs and relationships as model inputs."""
    document = json.loads((HOSPITAL_DIR / "hospital.json").read_text())
    cis = [
        CIInput(
            key=row["id"],
            ci_class=row["class"],
            name=row["name"],
            criticality=row["criticality"],
            status=row["status"],
            attributes=row.get("attributes", {}),
            identifiers=row.get("identifiers", {}),
            tags=row.get("tags", []),
        )
        for row in document["cis"]
    ]
    relationships = [
        RelationshipInput(
            source=row["source"],
            type=row["type"],
            target=row["target"],
            properties=row.get("properties", {}),
        )
        for row in document["relationships"]
    ]
    return cis, relationships


def scenarios() -> list[dict[str, Any]]:
    return list(json.loads((HOSPITAL_DIR / "scenarios.json").read_text()))


def expected_answers() -> dict[str, dict[str, Any]]:
    """Return the expected answer of each scenario by name, without its "scenario" field."""
    answers: dict[str, dict[str, Any]] = {}
    for entry in json.loads((HOSPITAL_DIR / "expected.json").read_text()):
        answer = dict(entry)
        answers[answer.pop("scenario")] = answer
    return answers


def request_for(scenario: dict[str, Any]) -> ImpactRequest:
    return ImpactRequest(
        roots={key: Mode(mode) for key, mode in scenario["roots"].items()},
        overrides=frozenset(scenario.get("overrides", [])),
        open_incidents={key: ImpactState[state] for key, state in scenario.get("open_incidents", {}).items()},
        urgency=scenario["urgency"],
    )


def impact_flow_pairs(relationships: list[RelationshipInput]) -> set[tuple[str, str]]:
    """Return (from, to) pairs along which impact flows in the reference hospital."""
    pairs: set[tuple[str, str]] = set()
    for rel in relationships:
        flow = RELATIONSHIP_TYPES[rel.type].flow
        if flow is Flow.TARGET_TO_SOURCE:
            pairs.add((rel.target, rel.source))
        elif flow in (Flow.SOURCE_TO_TARGET, Flow.QUORUM):
            pairs.add((rel.source, rel.target))
    return pairs


def path_problems(answer: dict[str, Any], roots: set[str], flow_pairs: set[tuple[str, str]]) -> list[str]:
    """Return what is wrong with each impacted CI's path; an empty list when all are shortest chains.

    A path must start at a root, end at its CI, have distance + 1 entries, and
    join consecutive CIs by an impact edge; every CI on it must be impacted with
    the distance of its place in the chain, which makes the chain a shortest one.
    """
    problems: list[str] = []
    impacted = answer["impacted"]
    for key, entry in impacted.items():
        path = entry["path"]
        if path[0] not in roots:
            problems.append(f"{key}: path starts at {path[0]}, not at a root")
        if path[-1] != key:
            problems.append(f"{key}: path ends at {path[-1]}")
        if len(path) != entry["distance"] + 1:
            problems.append(f"{key}: path of {len(path)} CIs for distance {entry['distance']}")
        for position, (before, after) in enumerate(itertools.pairwise(path)):
            if (before, after) not in flow_pairs:
                problems.append(f"{key}: no impact edge from {before} to {after}")
            if after not in impacted or impacted[after]["distance"] != position + 1:
                problems.append(f"{key}: {after} is not impacted at distance {position + 1}")
    return problems


def without_paths(answer: dict[str, Any]) -> dict[str, Any]:
    """Return the answer with each impacted CI's path left out, for exact comparison."""
    stripped = dict(answer)
    stripped["impacted"] = {
        key: {"state": entry["state"], "distance": entry["distance"]}
        for key, entry in answer["impacted"].items()
    }
    return stripped


def hospital_closure() -> tuple[ImpactClosure, ImpactContext]:
    """Build the whole hospital as one closure, the way a store would return it, with its context."""
    cis, relationships = load_hospital()
    nodes = {
        ci.key: ImpactNode(
            ci.key, ci.ci_class, ci.name, ci.status, ci.criticality, tuple(ci.tags), ci.attributes
        )
        for ci in cis
    }
    edges: list[ImpactEdge] = []
    links: dict[str, dict[str, list[str]]] = {"LOCATED_IN": {}, "MANAGED_BY": {}, "OWNED_BY": {}}
    for rel in relationships:
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
