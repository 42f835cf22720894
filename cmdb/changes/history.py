"""History of the graph: version diffs, the graph as of an instant, and impact analysis as of then."""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cmdb.impact import ImpactReport, ImpactRequest, PriorityMatrix, propagate, summarize
from cmdb.model import (
    INACTIVE_STATUSES,
    RELATIONSHIP_TYPES,
    Criticality,
    Flow,
    Status,
    VersionRecord,
    impact_strength,
)
from cmdb.store.base import CINotFoundError, GraphStore, ImpactClosure, ImpactContext, ImpactEdge, ImpactNode

logger = logging.getLogger(__name__)

# Bookkeeping fields of a snapshot, left out of diffs.
_BOOKKEEPING = frozenset({"version", "sources", "first_seen", "last_seen", "updated_at", "key"})
# Snapshot fields whose entries are compared one by one, as "attributes.version".
_NESTED = frozenset({"attributes", "identifiers", "properties"})


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs between two snapshots, e.g. ``attributes.version`` from "14" to "15"."""

    field: str
    before: Any
    after: Any


class VersionNotFoundError(LookupError):
    def __init__(self, key: str, version: int, known: list[int]) -> None:
        listed = ", ".join(str(v) for v in known) or "none"
        super().__init__(f"CI {key!r} has no version {version}; its versions are {listed}")
        self.key = key
        self.version = version


def diff_snapshots(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Return the fields that differ between two snapshots, sorted by field name.

    Attributes, identifiers and relationship properties are compared entry by
    entry; a field missing on one side is None there.
    """
    changes: list[FieldChange] = []
    for name in sorted((set(before) | set(after)) - _BOOKKEEPING):
        old, new = before.get(name), after.get(name)
        if name in _NESTED and isinstance(old or {}, dict) and isinstance(new or {}, dict):
            old_map: dict[str, Any] = old or {}
            new_map: dict[str, Any] = new or {}
            for entry in sorted(set(old_map) | set(new_map)):
                if old_map.get(entry) != new_map.get(entry):
                    changes.append(FieldChange(f"{name}.{entry}", old_map.get(entry), new_map.get(entry)))
        elif old != new:
            changes.append(FieldChange(name, old, new))
    return changes


def ci_versions(store: GraphStore, key: str) -> list[VersionRecord]:
    """Return the versions of the CI itself, oldest first; raise CINotFoundError for an unknown key."""
    return [version for version in store.versions(key) if version.entity == "ci"]


def diff_versions(*, store: GraphStore, key: str, before: int, after: int) -> list[FieldChange]:
    """Return what changed on a CI from version ``before`` to version ``after``."""
    versions = {version.version: version for version in ci_versions(store, key)}
    for number in (before, after):
        if number not in versions:
            raise VersionNotFoundError(key, number, sorted(versions))
    return diff_snapshots(versions[before].snapshot, versions[after].snapshot)


@dataclass(frozen=True, slots=True)
class GraphAsOf:
    """The graph as it was at an instant: each CI's and each live relationship's snapshot then."""

    at: datetime
    cis: dict[str, dict[str, Any]]
    relationships: list[dict[str, Any]]


def graph_as_of(*, store: GraphStore, at: datetime) -> GraphAsOf:
    """Return the CIs and relationships whose versions were in force at ``at``.

    A CI retired later is present with its status then; a relationship created
    later, or ended by then, is absent.
    """
    cis: dict[str, dict[str, Any]] = {}
    relationships: list[dict[str, Any]] = []
    for version in store.versions_as_of(at):
        if version.entity == "ci":
            cis[version.key] = version.snapshot
        elif version.operation != "end":
            relationships.append(version.snapshot)
    relationships.sort(key=lambda rel: (rel["source"], rel["type"], rel["target"]))
    return GraphAsOf(at=at, cis=cis, relationships=relationships)


def _node(snapshot: dict[str, Any]) -> ImpactNode:
    return ImpactNode(
        key=snapshot["key"],
        ci_class=snapshot["ci_class"],
        name=snapshot["name"],
        status=Status(snapshot["status"]),
        criticality=Criticality(snapshot["criticality"]),
        tags=tuple(snapshot.get("tags") or ()),
        attributes=dict(snapshot.get("attributes") or {}),
    )


def closure_and_context(graph: GraphAsOf, roots: list[str]) -> tuple[ImpactClosure, ImpactContext]:
    """Build what a store's impact closure and context would return, from a graph held in memory.

    The closure follows impact edges among active CIs from ``roots``, then adds
    every active member of each redundancy group it reached.
    """
    nodes = {key: _node(snapshot) for key, snapshot in graph.cis.items()}
    active = {key for key, node in nodes.items() if node.status not in INACTIVE_STATUSES}
    edges: list[ImpactEdge] = []
    links: dict[str, dict[str, list[str]]] = {"LOCATED_IN": {}, "MANAGED_BY": {}, "OWNED_BY": {}}
    for rel in graph.relationships:
        source, rel_type, target = rel["source"], rel["type"], rel["target"]
        flow = RELATIONSHIP_TYPES[rel_type].flow
        strength = impact_strength(rel_type, (rel.get("properties") or {}).get("strength"))
        if flow is Flow.TARGET_TO_SOURCE:
            edges.append(ImpactEdge(target, source, rel_type, strength))
        elif flow is not Flow.NONE:
            edges.append(ImpactEdge(source, target, rel_type, strength))
        elif rel_type in links:
            links[rel_type].setdefault(source, []).append(target)

    outgoing: dict[str, list[ImpactEdge]] = defaultdict(list)
    for edge in edges:
        outgoing[edge.source].append(edge)
    reached = {key for key in roots if key in active}
    queue = deque(sorted(reached))
    while queue:
        for edge in outgoing[queue.popleft()]:
            if edge.target in active and edge.target not in reached:
                reached.add(edge.target)
                queue.append(edge.target)
    quorum = {name for name, rel_type in RELATIONSHIP_TYPES.items() if rel_type.flow is Flow.QUORUM}
    reached |= {
        edge.source
        for edge in edges
        if edge.type in quorum and edge.target in reached and edge.source in active
    }
    closure = ImpactClosure(
        nodes={key: nodes[key] for key in reached},
        edges=[edge for edge in edges if edge.source in reached and edge.target in reached],
    )
    context = ImpactContext(
        located_in=links["LOCATED_IN"],
        managed_by=links["MANAGED_BY"],
        owned_by=links["OWNED_BY"],
        notify_teams=[
            node
            for node in nodes.values()
            if node.ci_class == "Team" and node.attributes.get("notify_for_tags")
        ],
        nodes=nodes,
    )
    return closure, context


def impact_as_of(
    *, store: GraphStore, request: ImpactRequest, at: datetime, matrix: PriorityMatrix | None = None
) -> ImpactReport:
    """Run the impact engine for ``request`` on the graph as it was at ``at``.

    Raise CINotFoundError for a CI that did not exist then.
    """
    graph = graph_as_of(store=store, at=at)
    named = set(request.roots) | set(request.overrides) | set(request.open_incidents)
    for key in sorted(named):
        if key not in graph.cis:
            raise CINotFoundError(key)
    active_roots = sorted(key for key in request.roots if key not in request.overrides)
    closure, context = closure_and_context(graph, active_roots)
    propagation = propagate(closure, request)
    report = summarize(
        request=request,
        closure=closure,
        propagation=propagation,
        context=context,
        matrix=matrix or PriorityMatrix(),
    )
    logger.info(
        "impact of roots %s as of %s: %d CIs then, %d impacted, level %d",
        sorted(request.roots),
        at.isoformat(),
        len(graph.cis),
        len(report.impacted),
        report.impact_level,
    )
    return report
