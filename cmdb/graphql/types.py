"""GraphQL object types of the CI graph: CI, its identifiers, relationships and neighbours."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from cmdb.graphql import fields
from cmdb.graphql.context import Context
from cmdb.graphql.enums import DirectionEnum
from cmdb.graphql.errors import InvalidArgument, quote_all
from cmdb.graphql.history import CIHistoryFields
from cmdb.graphql.pagination import PageInfo
from cmdb.model import RELATIONSHIP_TYPES, CIRecord, Identifiers, RelationshipRecord, impact_strength
from cmdb.store.base import MAX_NEIGHBOUR_DEPTH


def check_relationship_types(types: Sequence[str] | None) -> list[str]:
    """Return ``types`` when every one is a known relationship type; raise InvalidArgument otherwise."""
    checked = list(types or [])
    unknown = [name for name in checked if name not in RELATIONSHIP_TYPES]
    if unknown:
        raise InvalidArgument(
            f"unknown relationship type(s) {quote_all(unknown)};"
            f" use one of: {', '.join(sorted(RELATIONSHIP_TYPES))}"
        )
    return checked


@strawberry.type(name="Identifiers", description="Identifiers by which a CI is found and matched.")
class IdentifiersType:
    serial: str | None
    macs: list[str]
    ips: list[str]
    hostname: str | None
    udi_di: str | None
    asset_tag: str | None

    @classmethod
    def from_model(cls, identifiers: Identifiers) -> IdentifiersType:
        return cls(
            serial=identifiers.serial,
            macs=list(identifiers.macs),
            ips=list(identifiers.ips),
            hostname=identifiers.hostname,
            udi_di=identifiers.udi_di,
            asset_tag=identifiers.asset_tag,
        )


@strawberry.type(
    name="CI",
    description=(
        'A configuration item, e.g. an infusion pump {key: "pump-icu-3", ciClass: "MedicalDevice",'
        ' criticality: "life_critical"}.'
    ),
)
class CIType(CIHistoryFields):
    key: str
    ci_class: str = strawberry.field(description="CI class, e.g. MedicalDevice, Server, Service.")
    name: str
    status: str = strawberry.field(
        description="planned, unverified, in_service, maintenance, retired or stale."
    )
    criticality: str = strawberry.field(
        description="life_critical, patient_care, business or administrative."
    )
    identifiers: IdentifiersType
    attributes: JSON = strawberry.field(description="Class attributes, e.g. manufacturer, os, min_healthy.")
    tags: list[str]
    sources: JSON = strawberry.field(description="Origin of the last write of each attribute.")
    version: int = strawberry.field(description="Version to send back as expectedVersion or version.")
    first_seen: datetime
    last_seen: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: CIRecord) -> CIType:
        return cls(
            key=record.key,
            ci_class=record.ci_class,
            name=record.name,
            status=record.status.value,
            criticality=record.criticality.value,
            identifiers=IdentifiersType.from_model(record.identifiers),
            attributes=JSON(record.attributes),
            tags=list(record.tags),
            sources=JSON(record.sources),
            version=record.version,
            first_seen=record.first_seen,
            last_seen=record.last_seen,
            updated_at=record.updated_at,
        )

    @fields.field(description="Relationships of this CI, optionally limited to some types.")
    async def relationships(
        self,
        info: strawberry.Info[Context, None],
        direction: DirectionEnum = DirectionEnum.BOTH,
        types: list[str] | None = None,
    ) -> list[RelationshipType]:
        # The store is synchronous; a worker thread keeps the event loop serving other requests.
        records = await asyncio.to_thread(
            info.context.store.relationships,
            self.key,
            direction=direction.to_model(),
            types=check_relationship_types(types),
        )
        return [RelationshipType.from_record(record) for record in records]

    @fields.field(description="CIs within depth steps (1 to 10) of this CI, nearest first, then by key.")
    async def neighbours(
        self,
        info: strawberry.Info[Context, None],
        depth: int = 1,
        direction: DirectionEnum = DirectionEnum.BOTH,
        types: list[str] | None = None,
    ) -> list[NeighbourType]:
        if not 1 <= depth <= MAX_NEIGHBOUR_DEPTH:
            raise InvalidArgument(f"invalid depth {depth}; use 1 to {MAX_NEIGHBOUR_DEPTH}")
        store = info.context.store
        checked_types = check_relationship_types(types)

        def traverse() -> list[NeighbourType]:
            found = store.neighbours(
                self.key, depth=depth, direction=direction.to_model(), types=checked_types
            )
            return [NeighbourType(ci=CIType.from_record(n.ci), distance=n.distance) for n in found]

        # A deep traversal can take seconds; a worker thread keeps the event loop serving other requests.
        return await asyncio.to_thread(traverse)


async def load_ci(info: strawberry.Info[Context, None], key: str) -> CIType | None:
    """Return the CI of ``key`` through the request's data loader, None when the store lacks it."""
    record = await info.context.ci_loader.load(key)
    return CIType.from_record(record) if record is not None else None


async def load_cis(info: strawberry.Info[Context, None], keys: Sequence[str]) -> list[CIType]:
    """Return the CIs of ``keys`` in order through the data loader, leaving out keys the store lacks."""
    records = await info.context.load_cis(keys)
    return [CIType.from_record(record) for record in records if record is not None]


@strawberry.type(
    name="Relationship", description="A typed link between two CIs, e.g. pump CONNECTS_TO switch."
)
class RelationshipType:
    source: str
    type: str
    target: str
    properties: JSON = strawberry.field(description="Properties such as port, vlan or strength.")
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: RelationshipRecord) -> RelationshipType:
        return cls(
            source=record.source,
            type=record.type,
            target=record.target,
            properties=JSON(record.properties),
            version=record.version,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    @fields.field(description="hard or soft, as impact flows along this link; null for a type without flow.")
    def strength(self) -> str | None:
        properties = self.properties if isinstance(self.properties, dict) else {}
        strength = impact_strength(self.type, properties.get("strength"))
        return strength.value if strength is not None else None

    @fields.field(name="sourceCI")
    async def source_ci(self, info: strawberry.Info[Context, None]) -> CIType | None:
        return await load_ci(info, self.source)

    @fields.field(name="targetCI")
    async def target_ci(self, info: strawberry.Info[Context, None]) -> CIType | None:
        return await load_ci(info, self.target)


@strawberry.type(
    name="Neighbour", description="A CI reached by following relationships, and how many steps away."
)
class NeighbourType:
    ci: CIType
    distance: int


@strawberry.type(name="CIEdge")
class CIEdge:
    cursor: str
    node: CIType


@strawberry.type(name="CIConnection", description="A page of CIs ordered by key.")
class CIConnection:
    edges: list[CIEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Number of CIs matching the filter, on every page.")
