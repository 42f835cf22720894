"""Impact propagation: states to a fixpoint, redundancy quorums and causal chains.

Pure functions over the closure a store returns; no I/O.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from cmdb.impact.models import ImpactRequest, ImpactState
from cmdb.model import INACTIVE_STATUSES, Strength
from cmdb.store.base import ImpactClosure


def carry(state: ImpactState, strength: Strength) -> ImpactState:
    """Return the state a relationship of ``strength`` passes on: soft turns DOWN into DEGRADED."""
    if strength is Strength.SOFT and state is ImpactState.DOWN:
        return ImpactState.DEGRADED
    return state


def quorum_state(member_states: list[ImpactState], min_healthy: int) -> ImpactState:
    """Return a redundancy group's state from its members' states and ``min_healthy``."""
    if not member_states:
        return ImpactState.OK
    not_down = sum(1 for s in member_states if s is not ImpactState.DOWN)
    healthy = sum(1 for s in member_states if s <= ImpactState.AT_RISK)
    if not_down < min_healthy:
        return ImpactState.DOWN
    if healthy < min_healthy:
        return ImpactState.DEGRADED
    if any(s is not ImpactState.OK for s in member_states):
        return ImpactState.AT_RISK
    return ImpactState.OK


def _is_causal_member(member_state: ImpactState, group_state: ImpactState) -> bool:
    if group_state is ImpactState.DOWN:
        return member_state is ImpactState.DOWN
    if group_state is ImpactState.DEGRADED:
        return member_state >= ImpactState.DEGRADED
    return member_state >= ImpactState.AT_RISK


@dataclass(frozen=True, slots=True)
class CausalStep:
    """How an impacted CI was reached: the CI before it and the relationship type between them."""

    previous: str | None
    type: str | None
    distance: int


@dataclass(slots=True)
class Propagation:
    """Final states of every CI in the closure and the causal reach from the roots."""

    states: dict[str, ImpactState]
    reached: dict[str, CausalStep]

    def path(self, key: str) -> tuple[list[str], list[str]]:
        """Return one shortest causal chain to ``key`` as CI keys and the relationship types between them."""
        keys = [key]
        types: list[str] = []
        step = self.reached[key]
        while step.previous is not None:
            assert step.type is not None
            types.append(step.type)
            keys.append(step.previous)
            step = self.reached[step.previous]
        keys.reverse()
        types.reverse()
        return keys, types


class _Graph:
    """Adjacency of the active part of a closure, sorted by key for deterministic paths."""

    def __init__(self, closure: ImpactClosure, overrides: frozenset[str]) -> None:
        active = {key for key, node in closure.nodes.items() if node.status not in INACTIVE_STATUSES}
        self.carries: dict[str, list[tuple[str, Strength, str]]] = defaultdict(list)
        self.members: dict[str, list[str]] = defaultdict(list)
        self.groups_of: dict[str, list[str]] = defaultdict(list)
        for edge in closure.edges:
            if edge.source not in active or edge.target not in active:
                continue
            if edge.target in overrides:
                continue
            if edge.strength is None:
                self.members[edge.target].append(edge.source)
                self.groups_of[edge.source].append(edge.target)
            else:
                self.carries[edge.source].append((edge.target, edge.strength, edge.type))
        for targets in self.carries.values():
            targets.sort()
        for members in self.members.values():
            members.sort()
        for groups in self.groups_of.values():
            groups.sort()
        self.min_healthy = {group: _min_healthy(closure.nodes[group].attributes) for group in self.members}
        self.active = active


def _min_healthy(attributes: dict[str, object]) -> int:
    value = attributes.get("min_healthy", 1)
    return value if isinstance(value, int) and value >= 1 else 1


def propagate(closure: ImpactClosure, request: ImpactRequest) -> Propagation:
    """Evaluate rules 1 to 5: final states to a fixpoint, then the causal reach from the roots."""
    overrides = request.overrides
    graph = _Graph(closure, overrides)
    roots = sorted(k for k in request.roots if k in graph.active and k not in overrides)
    states: dict[str, ImpactState] = defaultdict(lambda: ImpactState.OK)

    def group_state(group: str) -> ImpactState:
        member_states = [
            ImpactState.OK
            if member in overrides
            else max(states[member], request.open_incidents.get(member, ImpactState.OK))
            for member in graph.members[group]
        ]
        return quorum_state(member_states, graph.min_healthy[group])

    queue: deque[str] = deque()
    for root in roots:
        states[root] = request.roots[root].state
        queue.append(root)
    for group in sorted(graph.members):
        if group in overrides:
            continue
        state = group_state(group)
        if state > states[group]:
            states[group] = state
            queue.append(group)

    while queue:
        current = queue.popleft()
        current_state = states[current]
        for target, strength, _type in graph.carries.get(current, ()):
            carried = carry(current_state, strength)
            if carried > states[target]:
                states[target] = carried
                queue.append(target)
        for group in graph.groups_of.get(current, ()):
            state = group_state(group)
            if state > states[group]:
                states[group] = state
                queue.append(group)

    reached = _causal_reach(graph, roots, states)
    return Propagation(states=dict(states), reached=reached)


def _causal_reach(graph: _Graph, roots: list[str], states: dict[str, ImpactState]) -> dict[str, CausalStep]:
    """Breadth-first search over causal steps, so each CI's first visit is a shortest chain."""
    reached: dict[str, CausalStep] = {root: CausalStep(None, None, 0) for root in roots}
    queue: deque[str] = deque(roots)
    while queue:
        current = queue.popleft()
        current_state = states[current]
        distance = reached[current].distance + 1
        for target, strength, rel_type in graph.carries.get(current, ()):
            if target in reached:
                continue
            target_state = states[target]
            if target_state is not ImpactState.OK and carry(current_state, strength) is target_state:
                reached[target] = CausalStep(current, rel_type, distance)
                queue.append(target)
        for group in graph.groups_of.get(current, ()):
            if group in reached:
                continue
            group_final = states[group]
            if group_final is not ImpactState.OK and _is_causal_member(current_state, group_final):
                reached[group] = CausalStep(current, "MEMBER_OF", distance)
                queue.append(group)
    return reached
