"""Blast radius of a change from the impact engine's result."""

from __future__ import annotations

from collections.abc import Mapping

from cmdb.changes.conflicts import BlastRadius
from cmdb.impact.models import ImpactState
from cmdb.impact.summary import LocationIndex
from cmdb.store.base import ImpactContext, ImpactNode


def blast_radius(
    *,
    states: Mapping[str, ImpactState],
    nodes: Mapping[str, ImpactNode],
    context: ImpactContext,
) -> BlastRadius:
    """Return the blast radius of impacted CIs with their final states and scope tokens."""
    tokens: dict[str, frozenset[str]] = {}
    locations = LocationIndex(context)
    for key in states:
        node = nodes[key]
        own = {key, f"class:{node.ci_class}", *(f"tag:{tag}" for tag in node.tags)}
        tokens[key] = frozenset(own | locations.above(key))
    return BlastRadius(states=dict(states), scope_tokens=tokens)
