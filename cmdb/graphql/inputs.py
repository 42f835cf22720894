"""GraphQL input types and their conversion to the model's pydantic inputs.

Classes, statuses and criticalities are strings here, not enums, so that a
wrong value reaches pydantic and comes back as ValidationFailed naming it.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from cmdb.graphql.enums import FailureModeEnum, IncidentStateEnum
from cmdb.model import CIInput, RelationshipInput


@strawberry.input(name="IdentifiersInput")
class IdentifiersInput:
    serial: str | None = None
    macs: list[str] | None = None
    ips: list[str] | None = None
    hostname: str | None = None
    udi_di: str | None = None
    asset_tag: str | None = None


@strawberry.input(
    name="CIInput",
    description=(
        "A CI to create or update by key. On update, fields left out keep their stored values,"
        " attributes and identifiers merge (an attribute set to null is removed), and tags given"
        " replace the stored tags. On creation, fields left out take their defaults"
        " (status in_service, criticality administrative, no tags)."
    ),
)
class CIInputType:
    key: str
    ci_class: str = strawberry.field(description="CI class, e.g. MedicalDevice, Server, Service.")
    name: str
    status: str | None = strawberry.field(
        default=None, description="planned, unverified, in_service, maintenance, retired or stale."
    )
    criticality: str | None = strawberry.field(
        default=None, description="life_critical, patient_care, business or administrative."
    )
    identifiers: IdentifiersInput | None = None
    attributes: JSON | None = None
    tags: list[str] | None = None
    version: int | None = strawberry.field(
        default=None,
        description="The version last read; the write fails with VersionConflict when the CI has moved on.",
    )

    def to_model(self) -> CIInput:
        """Return the pydantic input; raise pydantic's ValidationError for invalid values."""
        fields: dict[str, Any] = {"key": self.key, "ci_class": self.ci_class, "name": self.name}
        optional = {
            "status": self.status,
            "criticality": self.criticality,
            "attributes": self.attributes,
            "tags": self.tags,
            "version": self.version,
        }
        fields.update({name: value for name, value in optional.items() if value is not None})
        if self.identifiers is not None:
            fields["identifiers"] = {
                name: value
                for name, value in vars(self.identifiers).items()
                if value is not None and not name.startswith("_")
            }
        return CIInput.model_validate(fields)


@strawberry.input(
    name="RelationshipInput", description="A relationship to create or update by (source, type, target)."
)
class RelationshipInputType:
    source: str
    type: str = strawberry.field(description="DEPENDS_ON, RUNS_ON, CONNECTS_TO, FEEDS, SUPPORTS, ...")
    target: str
    properties: JSON | None = strawberry.field(
        default=None, description='Properties such as {"port": "Gi1/0/12", "strength": "soft"}.'
    )

    def to_model(self) -> RelationshipInput:
        """Return the pydantic input; raise pydantic's ValidationError for invalid values."""
        fields: dict[str, Any] = {"source": self.source, "type": self.type, "target": self.target}
        if self.properties is not None:
            fields["properties"] = self.properties
        return RelationshipInput.model_validate(fields)


@strawberry.input(name="CIFilterInput", description="Every given field must match.")
class CIFilterInput:
    classes: list[str] | None = strawberry.field(default=None, description="CI classes, any of them.")
    criticalities: list[str] | None = None
    statuses: list[str] | None = None
    tag: str | None = None
    text: str | None = strawberry.field(
        default=None,
        description="Case-insensitive part of the key or name, or an exact serial, MAC, IP or hostname.",
    )


@strawberry.input(name="ImpactRootInput")
class ImpactRootInput:
    ci: str = strawberry.field(description="Key of the failing CI.")
    mode: FailureModeEnum = FailureModeEnum.DOWN


@strawberry.input(name="OpenIncidentInput")
class OpenIncidentInput:
    ci: str = strawberry.field(description="Key of a CI with an open incident.")
    state: IncidentStateEnum


@strawberry.input(name="ImpactInput", description="An impact question: what fails, and how urgent it is.")
class ImpactInput:
    roots: list[ImpactRootInput]
    overrides: list[str] | None = strawberry.field(
        default=None, description="CIs that stay OK and pass nothing on."
    )
    open_incidents: list[OpenIncidentInput] | None = strawberry.field(
        default=None, description="Existing outages; they count only toward redundancy-group quorums."
    )
    urgency: int = strawberry.field(default=2, description="1 (high) to 3 (low).")
