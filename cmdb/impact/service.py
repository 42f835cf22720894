"""Impact analysis over a store: load the closure, propagate, summarize."""

from __future__ import annotations

import logging

from cmdb.impact.models import ImpactReport, ImpactRequest
from cmdb.impact.priority import PriorityMatrix
from cmdb.impact.propagation import propagate
from cmdb.impact.summary import summarize
from cmdb.store.base import CINotFoundError, GraphStore

logger = logging.getLogger(__name__)


def analyze(
    *, store: GraphStore, request: ImpactRequest, matrix: PriorityMatrix | None = None
) -> ImpactReport:
    """Answer an impact request against ``store``; raise CINotFoundError for an unknown CI."""
    named = set(request.roots) | set(request.overrides) | set(request.open_incidents)
    found = store.get_cis(named)
    for key in sorted(named):
        if key not in found:
            raise CINotFoundError(key)

    active_roots = [key for key in request.roots if key not in request.overrides]
    closure = store.impact_closure(active_roots)
    propagation = propagate(closure, request)
    context = store.impact_context(propagation.reached)
    report = summarize(
        request=request,
        closure=closure,
        propagation=propagation,
        context=context,
        matrix=matrix or PriorityMatrix(),
    )
    logger.info(
        "impact of roots %s: %d CIs in closure, %d impacted, level %d, %s",
        sorted(request.roots),
        len(closure.nodes),
        len(report.impacted),
        report.impact_level,
        report.priority,
    )
    return report
