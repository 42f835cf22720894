"""GraphQL types of an impact report: summary, clinical picture and the paginated impacted CIs."""

from __future__ import annotations

import strawberry

from cmdb.graphql import fields
from cmdb.graphql.context import Context
from cmdb.graphql.enums import ImpactStateEnum
from cmdb.graphql.pagination import (
    DEFAULT_PAGE_SIZE,
    PageInfo,
    check_page_size,
    decode_offset_cursor,
    encode_offset_cursor,
)
from cmdb.graphql.types import CIType, load_ci, load_cis
from cmdb.impact import ImpactedCI, ImpactReport

IMPACTED_CURSOR_KIND = "impacted"


@strawberry.type(name="ImpactedCI", description="An impacted CI with one shortest causal chain from a root.")
class ImpactedCIType:
    key: str
    name: str
    ci_class: str
    criticality: str
    state: ImpactStateEnum
    distance: int = strawberry.field(description="Steps on the shortest causal chain from a root.")
    path: list[str] = strawberry.field(description="Keys from a root to this CI; distance + 1 entries.")
    path_types: list[str] = strawberry.field(description="Relationship type of each step of the path.")

    @classmethod
    def from_report(cls, ci: ImpactedCI) -> ImpactedCIType:
        return cls(
            key=ci.key,
            name=ci.name,
            ci_class=ci.ci_class,
            criticality=ci.criticality,
            state=ImpactStateEnum(ci.state),
            distance=ci.distance,
            path=list(ci.path),
            path_types=list(ci.path_types),
        )

    @strawberry.field
    async def ci(self, info: strawberry.Info[Context, None]) -> CIType | None:
        return await load_ci(info, self.key)

    @fields.field(name="pathCIs", description="The CIs of path, in order.")
    async def path_cis(self, info: strawberry.Info[Context, None]) -> list[CIType]:
        return await load_cis(info, self.path)


@strawberry.type(name="ImpactedCIEdge")
class ImpactedCIEdge:
    cursor: str
    node: ImpactedCIType


@strawberry.type(
    name="ImpactedCIConnection", description="A page of impacted CIs, nearest first, then by key."
)
class ImpactedCIConnection:
    edges: list[ImpactedCIEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(name="CIState", description="An impacted service, department or device and its state.")
class CIStateType:
    key: str
    name: str
    state: ImpactStateEnum

    @strawberry.field
    async def ci(self, info: strawberry.Info[Context, None]) -> CIType | None:
        return await load_ci(info, self.key)


@strawberry.type(
    name="Stakeholder", description="A team or department to act on, or to inform of, the impact."
)
class StakeholderType:
    key: str

    @strawberry.field
    async def name(self, info: strawberry.Info[Context, None]) -> str | None:
        found = await load_ci(info, self.key)
        return found.name if found is not None else None

    @strawberry.field
    async def ci(self, info: strawberry.Info[Context, None]) -> CIType | None:
        return await load_ci(info, self.key)


@strawberry.type(name="LocationImpact", description="A location holding impacted CIs, directly or below it.")
class LocationImpactType:
    location: str = strawberry.field(description="Key of the location.")
    name: str
    impacted: int = strawberry.field(description="Impacted CIs in or below the location, each once.")
    life_critical: int = strawberry.field(description="How many of those are life_critical.")

    @strawberry.field
    async def ci(self, info: strawberry.Info[Context, None]) -> CIType | None:
        return await load_ci(info, self.location)


@strawberry.type(name="ImpactReport", description="The answer to an impact question.")
class ImpactReportType:
    impact_level: int = strawberry.field(description="1 (a life-critical CI down) to 4 (no clinical impact).")
    urgency: int
    priority: str = strawberry.field(description="P1 to P5 from impact level and urgency.")
    impacted_count: int
    services: list[CIStateType]
    departments: list[CIStateType]
    life_critical_devices: list[CIStateType]
    stakeholders: list[StakeholderType] = strawberry.field(description="Teams and departments to act.")
    informed: list[StakeholderType] = strawberry.field(description="Teams and departments to tell.")
    locations: list[LocationImpactType]
    warnings: list[str] = strawberry.field(
        description="Why a root takes no part, e.g. it is retired or also an override."
    )
    report: strawberry.Private[ImpactReport]

    @classmethod
    def from_report(cls, report: ImpactReport) -> ImpactReportType:
        by_key = {ci.key: ci for ci in report.impacted}

        def state_of(key: str, state: str) -> CIStateType:
            return CIStateType(key=key, name=by_key[key].name, state=ImpactStateEnum(state))

        return cls(
            impact_level=report.impact_level,
            urgency=report.urgency,
            priority=report.priority,
            impacted_count=len(report.impacted),
            services=[state_of(key, state) for key, state in sorted(report.services.items())],
            departments=[state_of(key, state) for key, state in sorted(report.departments.items())],
            life_critical_devices=[state_of(key, by_key[key].state) for key in report.life_critical_devices],
            stakeholders=[StakeholderType(key=key) for key in report.stakeholders],
            informed=[StakeholderType(key=key) for key in report.informed],
            locations=[
                LocationImpactType(
                    location=key, name=loc.name, impacted=loc.impacted, life_critical=loc.life_critical
                )
                for key, loc in sorted(report.locations.items())
            ],
            warnings=list(report.warnings),
            report=report,
        )

    @fields.field(description="Impacted CIs, roots included, nearest first, then by key.")
    def impacted(
        self,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
        states: list[ImpactStateEnum] | None = None,
    ) -> ImpactedCIConnection:
        check_page_size(first)
        start = decode_offset_cursor(IMPACTED_CURSOR_KIND, after)
        selected_states = {state.value for state in states} if states else None
        matching = [
            ci for ci in self.report.impacted if selected_states is None or ci.state in selected_states
        ]
        page = matching[start : start + first]
        edges = [
            ImpactedCIEdge(
                cursor=encode_offset_cursor(IMPACTED_CURSOR_KIND, start + i),
                node=ImpactedCIType.from_report(ci),
            )
            for i, ci in enumerate(page)
        ]
        return ImpactedCIConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=start + len(page) < len(matching),
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=len(matching),
        )
