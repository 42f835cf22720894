"""CI classes, relationship types and the schemas shared by every part of the CMDB."""

from cmdb.model.ci import (
    CIInput,
    CIRecord,
    Identifiers,
    RelationshipInput,
    RelationshipRecord,
    VersionRecord,
    describe_validation_error,
    normalize_mac,
)
from cmdb.model.classes import CI_CLASSES, CIClass
from cmdb.model.context import ChangeContext
from cmdb.model.enums import (
    INACTIVE_STATUSES,
    Criticality,
    Direction,
    Flow,
    Origin,
    Status,
    Strength,
)
from cmdb.model.relationship_types import RELATIONSHIP_TYPES, RelationshipType, impact_strength

__all__ = [
    "CI_CLASSES",
    "INACTIVE_STATUSES",
    "RELATIONSHIP_TYPES",
    "CIClass",
    "CIInput",
    "CIRecord",
    "ChangeContext",
    "Criticality",
    "Direction",
    "Flow",
    "Identifiers",
    "Origin",
    "RelationshipInput",
    "RelationshipRecord",
    "RelationshipType",
    "Status",
    "Strength",
    "VersionRecord",
    "describe_validation_error",
    "impact_strength",
    "normalize_mac",
]
