"""Impact propagation, clinical summary and priority, written once above the store protocol."""

from cmdb.impact.models import (
    ImpactedCI,
    ImpactReport,
    ImpactRequest,
    ImpactState,
    LocationImpact,
    Mode,
)
from cmdb.impact.priority import PriorityMatrix
from cmdb.impact.propagation import Propagation, propagate, quorum_state
from cmdb.impact.service import analyze
from cmdb.impact.summary import summarize

__all__ = [
    "ImpactReport",
    "ImpactRequest",
    "ImpactState",
    "ImpactedCI",
    "LocationImpact",
    "Mode",
    "PriorityMatrix",
    "Propagation",
    "analyze",
    "propagate",
    "quorum_state",
    "summarize",
]
