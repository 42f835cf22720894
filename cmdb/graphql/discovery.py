"""GraphQL for discovery: the `startDiscovery` mutation and the `discoveryRuns` / `discoveryRun` queries.

A run started here goes on in a background thread, one run at a time per
store. The mutation returns the run at once, and clients poll `discoveryRun`.
"""

from __future__ import annotations

import logging
import weakref
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from cmdb.auth import Role
from cmdb.discovery.credentials import CredentialError
from cmdb.discovery.runs import DiscoveryRun
from cmdb.discovery.scheduler import DiscoveryRunner
from cmdb.discovery.targets import TargetError, parse_targets
from cmdb.graphql import fields
from cmdb.graphql.context import Context
from cmdb.graphql.pagination import DEFAULT_PAGE_SIZE, PageInfo, check_page_size
from cmdb.graphql.results import ValidationFailed
from cmdb.settings import Settings
from cmdb.store.base import GraphStore

logger = logging.getLogger(__name__)

START_ROLES = frozenset({Role.EDITOR, Role.ADMIN})

# One runner per store, so runs over one store never overlap.
_RUNNERS: weakref.WeakKeyDictionary[GraphStore, DiscoveryRunner] = weakref.WeakKeyDictionary()


def runner_for(store: GraphStore, settings: Settings) -> DiscoveryRunner:
    """Return the store's runner, created from `settings` on first use."""
    runner = _RUNNERS.get(store)
    if runner is None:
        runner = DiscoveryRunner.from_settings(store, settings)
        _RUNNERS[store] = runner
    return runner


@strawberry.type(
    description="How the collection of one target ended, e.g. status ok with profile campus-v2c."
)
class TargetOutcomeType:
    target: str
    status: str = strawberry.field(description="ok, partial or unreachable.")
    profile: str | None = strawberry.field(description="Name of the credential profile that worked.")
    error: str | None
    errors: list[str]
    ci_key: str | None
    partial_tables: list[str]


@strawberry.type(description="A curated value discovery saw differently and kept, e.g. attributes.vendor.")
class DisagreementType:
    ci_key: str
    field: str
    stored: JSON
    discovered: JSON
    source: str


@strawberry.type(description="A MAC learned only on switch uplinks, so its edge port is unknown.")
class UnattachedMacType:
    mac: str
    vendor: str | None
    ips: list[str]
    seen_on: list[str] = strawberry.field(description="`TARGET PORT` of each uplink where it was learned.")
    ci_key: str | None


@strawberry.type(name="DiscoveryRun", description="One discovery run: targets, outcomes and counts.")
class DiscoveryRunType:
    id: strawberry.ID
    targets: list[str]
    started_at: datetime
    finished_at: datetime | None
    status: str = strawberry.field(description="running, finished or failed.")
    actor: str
    outcomes: list[TargetOutcomeType]
    cis_added: int
    cis_changed: int
    cis_unchanged: int
    cis_stale: int
    links_added: int
    links_changed: int
    links_unchanged: int
    links_removed: int
    unattached: list[UnattachedMacType]
    disagreements: list[DisagreementType]
    rejected: list[str]
    error: str | None

    @classmethod
    def from_run(cls, run: DiscoveryRun) -> DiscoveryRunType:
        return cls(
            id=strawberry.ID(run.id),
            targets=run.targets,
            started_at=run.started_at,
            finished_at=run.finished_at,
            status=run.status.value,
            actor=run.actor,
            outcomes=[
                TargetOutcomeType(
                    target=o.target,
                    status=o.status.value,
                    profile=o.profile,
                    error=o.error,
                    errors=o.errors,
                    ci_key=o.ci_key,
                    partial_tables=o.partial_tables,
                )
                for o in run.outcomes
            ],
            cis_added=run.cis_added,
            cis_changed=run.cis_changed,
            cis_unchanged=run.cis_unchanged,
            cis_stale=run.cis_stale,
            links_added=run.links_added,
            links_changed=run.links_changed,
            links_unchanged=run.links_unchanged,
            links_removed=run.links_removed,
            unattached=[
                UnattachedMacType(mac=u.mac, vendor=u.vendor, ips=u.ips, seen_on=u.seen_on, ci_key=u.ci_key)
                for u in run.unattached
            ],
            disagreements=[
                DisagreementType(
                    ci_key=d.ci_key,
                    field=d.field,
                    stored=JSON(d.stored),
                    discovered=JSON(d.discovered),
                    source=d.source,
                )
                for d in run.disagreements
            ],
            rejected=run.rejected,
            error=run.error,
        )


@strawberry.type(description="No discovery run has this id.")
class DiscoveryRunNotFound:
    id: str
    message: str


@strawberry.type(description="A run is already in progress over this store.")
class DiscoveryBusy:
    message: str


@strawberry.type
class DiscoveryRunEdge:
    cursor: str
    node: DiscoveryRunType


@strawberry.type(description="A page of discovery runs, newest first.")
class DiscoveryRunConnection:
    edges: list[DiscoveryRunEdge]
    page_info: PageInfo


DiscoveryRunResult = Annotated[
    DiscoveryRunType | DiscoveryRunNotFound, strawberry.union("DiscoveryRunResult")
]
StartDiscoveryResult = Annotated[
    DiscoveryRunType | ValidationFailed | DiscoveryBusy, strawberry.union("StartDiscoveryResult")
]


@strawberry.type
class DiscoveryQuery:
    @fields.field(description="Discovery runs, newest first, first at most 500 per page.")
    def discovery_runs(
        self, info: strawberry.Info[Context, None], first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> DiscoveryRunConnection:
        info.context.require_reader()
        check_page_size(first)
        page = info.context.store.list_discovery_runs(first=first, after=after)
        edges = [
            DiscoveryRunEdge(cursor=item.id, node=DiscoveryRunType.from_run(DiscoveryRun.from_stored(item)))
            for item in page.items
        ]
        return DiscoveryRunConnection(
            edges=edges, page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor)
        )

    @fields.field(description="The discovery run with this id.")
    def discovery_run(self, info: strawberry.Info[Context, None], id: strawberry.ID) -> DiscoveryRunResult:
        info.context.require_reader()
        stored = info.context.store.get_discovery_run(str(id))
        if stored is None:
            return DiscoveryRunNotFound(
                id=str(id), message=f"discovery run {id!r} not found; list discoveryRuns"
            )
        return DiscoveryRunType.from_run(DiscoveryRun.from_stored(stored))


@strawberry.type
class DiscoveryMutation:
    @fields.mutation(description="Start discovery over targets in the background and return the running run.")
    def start_discovery(
        self, info: strawberry.Info[Context, None], targets: list[str]
    ) -> StartDiscoveryResult:
        context = info.context
        principal = context.require_roles("startDiscovery", START_ROLES)
        try:
            parse_targets(targets)
            if not targets:
                raise TargetError("no targets; give addresses, ranges a-b or CIDR blocks")
        except TargetError as error:
            return ValidationFailed.single("targets", str(error), ", ".join(targets))
        try:
            runner = runner_for(context.store, context.settings)
        except (ValueError, OSError, CredentialError) as error:
            logger.warning("request %s: discovery not started: %s", context.request_id, error)
            return ValidationFailed.single("credentials", str(error))
        try:
            run = runner.start(targets, actor=principal.actor)
        except RuntimeError as error:
            return DiscoveryBusy(message=str(error))
        logger.info("request %s: discovery run %s started by %s", context.request_id, run.id, principal.actor)
        return DiscoveryRunType.from_run(run)
