"""Impact propagation: states to a fixpoint, redundancy quorums and causal chains.

Pure functions over the closure a store returns; no I/O.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from typing import NamedTuple

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


class CausalStep(NamedTuple):
    """The step that reached an impacted CI: the CI before it and the relationship type between them."""

    previous: str | None
    type: str | None
    distance: int


@dataclass(slots=True)
class Propagation:
    """Final states of every CI in the closure and the causal reach from the roots."""

    states: dict[str, ImpactState]
    reached: dict[str, CausalStep]

    def all_paths(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """Return every impacted CI's chain as CI keys and the relationship types between them.

        ``reached`` is filled in breadth-first order, so each CI's predecessor comes
        before it and its chain extends the predecessor's by one step.
        """
        paths: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        for key, step in self.reached.items():
            if step.previous is None or step.type is None:
                paths[key] = ((key,), ())
            else:
                keys, types = paths[step.previous]
                paths[key] = ((*keys, key), (*types, step.type))
        return paths

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


# The hot loops below work on plain ints (the values of ImpactState), because they compare
# and hash faster than enum members. States are converted back once at the end.
_OK = int(ImpactState.OK)
_DEGRADED = int(ImpactState.DEGRADED)
_DOWN = int(ImpactState.DOWN)
_STATE_OF = {int(state): state for state in ImpactState}


class _Graph:
    """Adjacency of the active part of a closure, sorted by key for deterministic paths.

    ``carries`` maps a CI to (target, soft, relationship type) for every impact edge
    that carries a state; ``members`` and ``groups_of`` hold the MEMBER_OF edges.
    """

    def __init__(self, closure: ImpactClosure, overrides: frozenset[str]) -> None:
        active = {key for key, node in closure.nodes.items() if node.status not in INACTIVE_STATUSES}
        carries: dict[str, list[tuple[str, bool, str]]] = defaultdict(list)
        members: dict[str, list[str]] = defaultdict(list)
        groups_of: dict[str, list[str]] = defaultdict(list)
        soft = Strength.SOFT
        for edge in closure.edges:
            source, target = edge.source, edge.target
            if source not in active or target not in active or target in overrides:
                continue
            if edge.strength is None:
                members[target].append(source)
                groups_of[source].append(target)
            else:
                carries[source].append((target, edge.strength is soft, edge.type))
        for adjacency in (carries, members, groups_of):
            for entries in adjacency.values():
                if len(entries) > 1:
                    entries.sort()
        self.carries: dict[str, list[tuple[str, bool, str]]] = dict(carries)
        self.members: dict[str, list[str]] = dict(members)
        self.groups_of: dict[str, list[str]] = dict(groups_of)
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
    incidents = {key: int(state) for key, state in request.open_incidents.items()}
    states: dict[str, int] = {}

    def group_state(group: str) -> int:
        member_states = [
            _OK if member in overrides else max(states.get(member, _OK), incidents.get(member, _OK))
            for member in graph.members[group]
        ]
        return int(quorum_state([_STATE_OF[s] for s in member_states], graph.min_healthy[group]))

    queue: deque[str] = deque()
    for root in roots:
        states[root] = int(request.roots[root].state)
        queue.append(root)
    for group in sorted(graph.members):
        if group in overrides:
            continue
        state = group_state(group)
        if state > states.get(group, _OK):
            states[group] = state
            queue.append(group)

    carries, groups_of = graph.carries, graph.groups_of
    while queue:
        current = queue.popleft()
        hard_state = states[current]
        soft_state = _DEGRADED if hard_state == _DOWN else hard_state
        for target, is_soft, _type in carries.get(current, ()):
            carried = soft_state if is_soft else hard_state
            if carried > states.get(target, _OK):
                states[target] = carried
                queue.append(target)
        for group in groups_of.get(current, ()):
            state = group_state(group)
            if state > states.get(group, _OK):
                states[group] = state
                queue.append(group)

    reached = _causal_reach(graph, roots, states)
    return Propagation(states={key: _STATE_OF[value] for key, value in states.items()}, reached=reached)


def _causal_reach(graph: _Graph, roots: list[str], states: dict[str, int]) -> dict[str, CausalStep]:
    """Breadth-first search over causal steps, so each CI's first visit is a shortest chain."""
    reached: dict[str, CausalStep] = {root: CausalStep(None, None, 0) for root in roots}
    queue: deque[str] = deque(roots)
    carries, groups_of = graph.carries, graph.groups_of
    while queue:
        current = queue.popleft()
        hard_state = states[current]
        soft_state = _DEGRADED if hard_state == _DOWN else hard_state
        distance = reached[current].distance + 1
        for target, is_soft, rel_type in carries.get(current, ()):
            if target in reached:
                continue
            target_state = states.get(target, _OK)
            if target_state != _OK and (soft_state if is_soft else hard_state) == target_state:
                reached[target] = CausalStep(current, rel_type, distance)
                queue.append(target)
        for group in groups_of.get(current, ()):
            if group in reached:
                continue
            group_final = states.get(group, _OK)
            if group_final != _OK and _is_causal_member(_STATE_OF[hard_state], _STATE_OF[group_final]):
                reached[group] = CausalStep(current, "MEMBER_OF", distance)
                queue.append(group)
    return reached
