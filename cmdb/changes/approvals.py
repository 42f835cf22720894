"""Approvals a change needs, derived from its type, the CIs it touches and its blast radius."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ChangeType(StrEnum):
    """ITIL change types: standard is pre-approved, normal goes to the CAB, emergency to the ECAB."""

    STANDARD = "standard"
    NORMAL = "normal"
    EMERGENCY = "emergency"


@dataclass(frozen=True, slots=True)
class TouchedCI:
    """What approval rules need to know of a CI a change touches."""

    key: str
    ci_class: str
    attributes: dict[str, Any]


def required_approvals(
    *, change_type: ChangeType, touched: Iterable[TouchedCI], impact_level: int
) -> list[str]:
    """Return the roles that must approve, sorted.

    A normal change needs cab, an emergency change ecab; a MedicalDevice needs
    biomed, and one with an FDA clearance (or an FDA-regulated Application)
    needs clinical_operations and compliance; a ClinicalConfiguration needs
    clinical_informatics, except a drug library, which needs pharmacy and
    biomed; a blast radius of impact level 1 needs clinical_operations.
    """
    roles: set[str] = set()
    if change_type is ChangeType.NORMAL:
        roles.add("cab")
    elif change_type is ChangeType.EMERGENCY:
        roles.add("ecab")
    for ci in touched:
        if ci.ci_class == "MedicalDevice":
            roles.add("biomed")
            if ci.attributes.get("fda_clearance"):
                roles |= {"clinical_operations", "compliance"}
        elif ci.ci_class == "Application" and ci.attributes.get("fda_regulated") is True:
            roles |= {"clinical_operations", "compliance"}
        elif ci.ci_class == "ClinicalConfiguration":
            if ci.attributes.get("kind") == "drug_library":
                roles |= {"pharmacy", "biomed"}
            else:
                roles.add("clinical_informatics")
    if impact_level == 1:
        roles.add("clinical_operations")
    return sorted(roles)


def needs_post_implementation_review(change_type: ChangeType) -> bool:
    """Return whether the change needs a review after it is implemented: every emergency change does."""
    return change_type is ChangeType.EMERGENCY
