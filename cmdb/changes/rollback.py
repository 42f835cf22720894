"""Rollback scope of an implemented change: items, order, coupled CIs and blockers."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Between changed CIs, the source of these relationships is reverted before the target.
ORDER_TYPES = frozenset({"DEPENDS_ON", "RUNS_ON", "HOSTED_ON", "CONNECTS_TO", "CONFIGURES", "MEMBER_OF"})
# Changed CIs linked by these relationships are coupled: they roll back together.
COUPLING_TYPES = frozenset({"CONFIGURES", "FEEDS"})


@dataclass(frozen=True, slots=True)
class RollbackItem:
    """One attribute value a change set, to be reverted from ``set_value`` back to ``previous``."""

    ci: str
    attribute: str
    set_value: Any
    previous: Any

    def to_dict(self) -> dict[str, Any]:
        return {"ci": self.ci, "attribute": self.attribute, "from": self.set_value, "to": self.previous}


@dataclass(frozen=True, slots=True)
class LaterChange:
    """An implemented change after this one that touches one of its CIs."""

    change_id: str
    ci: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "later_change", "change": self.change_id, "ci": self.ci}


@dataclass(frozen=True, slots=True)
class Drift:
    """A current value that is no longer the one the change set."""

    ci: str
    attribute: str
    expected: Any
    current: Any

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "drift",
            "ci": self.ci,
            "attribute": self.attribute,
            "expected": self.expected,
            "current": self.current,
        }


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    items: list[RollbackItem]
    order: list[str]
    coupled: list[list[str]]
    blockers: list[LaterChange | Drift]

    @property
    def blocked(self) -> bool:
        return bool(self.blockers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [item.to_dict() for item in self.items],
            "order": list(self.order),
            "coupled": [list(group) for group in self.coupled],
            "blockers": [blocker.to_dict() for blocker in self.blockers],
        }


def rollback_order(changed: Iterable[str], links: Iterable[tuple[str, str, str]]) -> list[str]:
    """Order changed CIs so that, for ordering relationships among them, the source comes first.

    Ties go by key. A cycle among changed CIs is broken at its smallest key, so
    every CI is listed once.
    """
    nodes = sorted(set(changed))
    successors: dict[str, set[str]] = defaultdict(set)
    indegree = dict.fromkeys(nodes, 0)
    for source, rel_type, target in links:
        ordered = rel_type in ORDER_TYPES and source in indegree and target in indegree
        if ordered and source != target and target not in successors[source]:
            successors[source].add(target)
            indegree[target] += 1
    ready = [key for key in nodes if indegree[key] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(nodes):
        if not ready:
            # A cycle: release its smallest remaining key.
            heapq.heappush(ready, min(key for key in nodes if key not in placed))
        key = heapq.heappop(ready)
        if key in placed:
            continue
        placed.add(key)
        order.append(key)
        for target in sorted(successors[key]):
            indegree[target] -= 1
            if indegree[target] == 0 and target not in placed:
                heapq.heappush(ready, target)
    return order


def coupled_groups(changed: Iterable[str], links: Iterable[tuple[str, str, str]]) -> list[list[str]]:
    """Return groups of two or more changed CIs joined by CONFIGURES or FEEDS, sorted by key."""
    members = set(changed)
    parent = {key: key for key in members}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for source, rel_type, target in links:
        if rel_type in COUPLING_TYPES and source in members and target in members:
            parent[root(source)] = root(target)
    groups: dict[str, list[str]] = defaultdict(list)
    for key in members:
        groups[root(key)].append(key)
    return sorted(sorted(group) for group in groups.values() if len(group) > 1)


def plan_rollback(
    *,
    set_values: Mapping[str, Mapping[str, Any]],
    previous_values: Mapping[str, Mapping[str, Any]],
    current_values: Mapping[str, Mapping[str, Any]],
    links: Sequence[tuple[str, str, str]],
    later_changes: Sequence[LaterChange],
) -> RollbackPlan:
    """Build the rollback plan of a change from what it set, what was there before and what is there now.

    ``set_values`` and the other mappings go CI key → attribute → value; a value
    absent from ``previous_values`` was not set before the change and reverts to None.
    """
    order = rollback_order(set_values, links)
    items = [
        RollbackItem(ci, attribute, set_values[ci][attribute], previous_values.get(ci, {}).get(attribute))
        for ci in order
        for attribute in sorted(set_values[ci])
    ]
    drift = [
        Drift(item.ci, item.attribute, item.set_value, current_values.get(item.ci, {}).get(item.attribute))
        for item in items
        if current_values.get(item.ci, {}).get(item.attribute) != item.set_value
    ]
    later = sorted(set(later_changes), key=lambda c: (c.change_id, c.ci))
    blockers: list[LaterChange | Drift] = [*later, *sorted(drift, key=lambda d: (d.ci, d.attribute))]
    return RollbackPlan(
        items=items, order=order, coupled=coupled_groups(set_values, links), blockers=blockers
    )
