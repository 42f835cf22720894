"""Clinical summary of a propagation: impact level, priority, services, locations, stakeholders."""

from __future__ import annotations

from cmdb.impact.models import (
    ImpactedCI,
    ImpactReport,
    ImpactRequest,
    ImpactState,
    LocationImpact,
    Mode,
)
from cmdb.impact.priority import PriorityMatrix
from cmdb.impact.propagation import Propagation
from cmdb.model import INACTIVE_STATUSES, Criticality
from cmdb.store.base import ImpactClosure, ImpactContext

_BROKEN = (ImpactState.DOWN, ImpactState.DEGRADED)


def impact_level(impacted: list[tuple[str, str, ImpactState]]) -> int:
    """Return the impact level 1-4 from (class, criticality, state) of every impacted CI."""
    level = 4
    for ci_class, criticality, state in impacted:
        if criticality == Criticality.LIFE_CRITICAL and state is ImpactState.DOWN:
            return 1
        if ci_class == "Service" and criticality == Criticality.PATIENT_CARE and state is ImpactState.DOWN:
            return 1
        if (criticality == Criticality.LIFE_CRITICAL and state is ImpactState.DEGRADED) or (
            criticality == Criticality.PATIENT_CARE and state in _BROKEN
        ):
            level = min(level, 2)
        elif (criticality == Criticality.BUSINESS and state in _BROKEN) or (
            criticality in (Criticality.LIFE_CRITICAL, Criticality.PATIENT_CARE)
            and state is ImpactState.AT_RISK
        ):
            level = min(level, 3)
    return level


def summarize(
    *,
    request: ImpactRequest,
    closure: ImpactClosure,
    propagation: Propagation,
    context: ImpactContext,
    matrix: PriorityMatrix,
) -> ImpactReport:
    """Build the report of rules 5 to 8 from a propagation and the context of its impacted CIs."""
    impacted: list[ImpactedCI] = []
    paths = propagation.all_paths()
    for key, step in propagation.reached.items():
        node = closure.nodes[key]
        state = propagation.states[key]
        reported = state.name
        if request.roots.get(key) is Mode.PLANNED_OUTAGE:
            reported = Mode.PLANNED_OUTAGE.value
        path, types = paths[key]
        impacted.append(
            ImpactedCI(
                key=key,
                name=node.name,
                ci_class=node.ci_class,
                criticality=node.criticality.value,
                state=reported,
                distance=step.distance,
                path=path,
                path_types=types,
            )
        )
    impacted.sort(key=lambda ci: (ci.distance, ci.key))
    states = {ci.key: propagation.states[ci.key] for ci in impacted}

    services = {ci.key: ci.state for ci in impacted if ci.ci_class == "Service"}
    departments = {ci.key: ci.state for ci in impacted if ci.ci_class == "Department"}
    life_critical_devices = sorted(
        ci.key
        for ci in impacted
        if ci.ci_class == "MedicalDevice" and ci.criticality == Criticality.LIFE_CRITICAL
    )
    level = impact_level([(ci.ci_class, ci.criticality, states[ci.key]) for ci in impacted])
    stakeholders, informed = _stakeholders(impacted, states, closure, context)
    return ImpactReport(
        impacted=impacted,
        services=services,
        departments=departments,
        life_critical_devices=life_critical_devices,
        impact_level=level,
        urgency=request.urgency,
        priority=matrix.priority(level, request.urgency),
        stakeholders=stakeholders,
        informed=informed,
        locations=_locations(impacted, context),
    )


def _locations(impacted: list[ImpactedCI], context: ImpactContext) -> dict[str, LocationImpact]:
    counts: dict[str, list[int]] = {}
    index = LocationIndex(context)
    for ci in impacted:
        if ci.ci_class == "Location":
            continue
        life_critical = 1 if ci.criticality == Criticality.LIFE_CRITICAL else 0
        for location in index.above(ci.key):
            entry = counts.get(location)
            if entry is None:
                counts[location] = [1, life_critical]
            else:
                entry[0] += 1
                entry[1] += life_critical
    return {
        key: LocationImpact(key, context.nodes[key].name, impacted_count, life_critical_count)
        for key, (impacted_count, life_critical_count) in sorted(counts.items())
    }


class LocationIndex:
    """The active Locations above each CI through LOCATED_IN, computed once per location."""

    def __init__(self, context: ImpactContext) -> None:
        self._context = context
        self._closed: dict[str, frozenset[str]] = {}

    def _is_location(self, key: str) -> bool:
        node = self._context.nodes.get(key)
        return node is not None and node.ci_class == "Location" and node.status not in INACTIVE_STATUSES

    def above(self, key: str) -> frozenset[str]:
        """Return every active Location that contains ``key`` directly or up its LOCATED_IN chain."""
        parents = [p for p in self._context.located_in.get(key, ()) if self._is_location(p)]
        if len(parents) == 1:
            return self._with_ancestors(parents[0], set())[0]
        found: set[str] = set()
        for parent in parents:
            found |= self._with_ancestors(parent, set())[0]
        return frozenset(found)

    def _with_ancestors(self, location: str, visiting: set[str]) -> tuple[frozenset[str], bool]:
        """Return ``location`` with the active Locations above it, and whether a cycle was cut.

        A set computed while a LOCATED_IN cycle was cut may miss the cycle's other
        members, so it is returned (it is complete for the outermost call) but not cached.
        """
        cached = self._closed.get(location)
        if cached is not None:
            return cached, False
        visiting.add(location)
        found = {location}
        cut = False
        for parent in self._context.located_in.get(location, ()):
            if not self._is_location(parent):
                continue
            if parent in visiting:
                cut = True
                continue
            ancestors, parent_cut = self._with_ancestors(parent, visiting)
            found |= ancestors
            cut = cut or parent_cut
        visiting.discard(location)
        result = frozenset(found)
        if not cut:
            self._closed[location] = result
        return result, cut


def locations_above(key: str, context: ImpactContext) -> frozenset[str]:
    """Return every active Location that contains ``key`` directly or up its LOCATED_IN chain."""
    return LocationIndex(context).above(key)


def _stakeholders(
    impacted: list[ImpactedCI],
    states: dict[str, ImpactState],
    closure: ImpactClosure,
    context: ImpactContext,
) -> tuple[list[str], list[str]]:
    """Return (stakeholders, informed): who acts on DOWN or DEGRADED CIs, who hears of AT_RISK ones."""
    acting: set[str] = set()
    told: set[str] = set()
    for ci in impacted:
        state = states[ci.key]
        if state is ImpactState.OK:
            continue
        roles = _roles_for(ci, closure, context)
        if state in _BROKEN:
            acting |= roles
        else:
            told |= roles
    return sorted(acting), sorted(told - acting)


def _roles_for(ci: ImpactedCI, closure: ImpactClosure, context: ImpactContext) -> set[str]:
    roles = {team for team in context.managed_by.get(ci.key, ()) if _is_active(team, "Team", context)}
    if ci.ci_class == "Service":
        roles |= {
            dept for dept in context.owned_by.get(ci.key, ()) if _is_active(dept, "Department", context)
        }
        tags = set(closure.nodes[ci.key].tags)
        for team in context.notify_teams:
            notify = team.attributes.get("notify_for_tags", [])
            if team.status not in INACTIVE_STATUSES and isinstance(notify, list) and tags & set(notify):
                roles.add(team.key)
    return roles


def _is_active(key: str, ci_class: str, context: ImpactContext) -> bool:
    node = context.nodes.get(key)
    return node is not None and node.ci_class == ci_class and node.status not in INACTIVE_STATUSES
