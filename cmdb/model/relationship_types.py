"""The relationship-type table: impact direction and default strength of each type.

The impact engine and the stores read this table; adding a type here needs no
change anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from cmdb.model.enums import Flow, Strength


@dataclass(frozen=True, slots=True)
class RelationshipType:
    """One relationship type: how it carries impact between its source and target."""

    name: str
    description: str
    flow: Flow
    default_strength: Strength | None

    @property
    def carries_impact(self) -> bool:
        return self.flow is not Flow.NONE


RELATIONSHIP_TYPES: dict[str, RelationshipType] = {
    rt.name: rt
    for rt in (
        RelationshipType("DEPENDS_ON", "The source needs the target.", Flow.TARGET_TO_SOURCE, Strength.HARD),
        RelationshipType(
            "RUNS_ON", "Software runs on a host or group.", Flow.TARGET_TO_SOURCE, Strength.HARD
        ),
        RelationshipType(
            "HOSTED_ON",
            "A virtual machine on a hypervisor or cluster.",
            Flow.TARGET_TO_SOURCE,
            Strength.HARD,
        ),
        RelationshipType(
            "CONNECTS_TO",
            "An endpoint's link to a switch or controller (properties port, vlan).",
            Flow.TARGET_TO_SOURCE,
            Strength.HARD,
        ),
        RelationshipType(
            "FEEDS",
            "A data flow such as HL7 or DICOM from the source to the target.",
            Flow.SOURCE_TO_TARGET,
            Strength.SOFT,
        ),
        RelationshipType(
            "CONFIGURES",
            "A clinical configuration configures an application or device.",
            Flow.SOURCE_TO_TARGET,
            Strength.SOFT,
        ),
        RelationshipType(
            "MEMBER_OF",
            "A member of a redundancy group; the group's state follows its quorum.",
            Flow.QUORUM,
            None,
        ),
        RelationshipType(
            "SUPPORTS",
            "The source is part of a service (hard when essential).",
            Flow.SOURCE_TO_TARGET,
            Strength.SOFT,
        ),
        RelationshipType(
            "USED_BY",
            "A service or end-user CI used by a department.",
            Flow.SOURCE_TO_TARGET,
            Strength.HARD,
        ),
        RelationshipType("LOCATED_IN", "A CI in a location, or a location in another.", Flow.NONE, None),
        RelationshipType("MANAGED_BY", "A CI managed by a team.", Flow.NONE, None),
        RelationshipType("OWNED_BY", "A service owned by a department.", Flow.NONE, None),
    )
}


def relationship_type(name: str) -> RelationshipType:
    """Return the type called ``name``; raise ``KeyError`` naming the known types."""
    try:
        return RELATIONSHIP_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(RELATIONSHIP_TYPES))
        raise KeyError(f"unknown relationship type {name!r}; use one of: {known}") from None


def impact_strength(type_name: str, strength_property: object) -> Strength | None:
    """Return the strength a relationship carries impact with, or None for a quorum or no-flow type.

    A valid ``strength`` property overrides the type's default.
    """
    rel_type = RELATIONSHIP_TYPES[type_name]
    if rel_type.default_strength is None:
        return None
    if isinstance(strength_property, str) and strength_property in Strength.__members__.values():
        return Strength(strength_property)
    return rel_type.default_strength
