"""The per-request context of a GraphQL operation: store, caller, request id and data loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from cmdb.auth import Principal
from cmdb.graphql.errors import AuthenticationRequired, PermissionDenied
from cmdb.graphql.metrics import GraphQLMetrics
from cmdb.impact import PriorityMatrix
from cmdb.model import ChangeContext, CIRecord, Origin
from cmdb.settings import Settings
from cmdb.store.base import GraphStore


@dataclass(frozen=True, slots=True)
class Services:
    """Services that every request shares: the store, the settings, the priority matrix and the metrics."""

    store: GraphStore
    settings: Settings
    matrix: PriorityMatrix
    metrics: GraphQLMetrics


def _make_ci_loader(store: GraphStore) -> DataLoader[str, CIRecord | None]:
    async def load(keys: list[str]) -> list[CIRecord | None]:
        # The store is synchronous; a worker thread keeps the event loop free meanwhile.
        found = await asyncio.to_thread(store.get_cis, keys)
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=load)


@dataclass
class Context(BaseContext):
    """The context of one GraphQL request; ``principal`` is None for a caller without a valid token."""

    services: Services
    request_id: str
    principal: Principal | None
    sent_credentials: bool
    ci_loader: DataLoader[str, CIRecord | None] = field(init=False)

    def __post_init__(self) -> None:
        BaseContext.__init__(self)
        self.ci_loader = _make_ci_loader(self.services.store)

    @property
    def store(self) -> GraphStore:
        return self.services.store

    @property
    def settings(self) -> Settings:
        return self.services.settings

    async def load_cis(self, keys: Iterable[str]) -> list[CIRecord | None]:
        """Return the CIs of ``keys`` in order, None for a key the store does not hold, in one batch."""
        return list(await self.ci_loader.load_many(list(keys)))

    def require_reader(self) -> None:
        """Raise AuthenticationRequired unless the caller has a token or reads are open."""
        if self.principal is not None:
            return
        if self.sent_credentials:
            raise AuthenticationRequired(
                "invalid or unknown API token; send a valid token as 'Authorization: Bearer TOKEN'"
            )
        if not self.settings.open_reads:
            raise AuthenticationRequired(
                "authentication required; send an API token as 'Authorization: Bearer TOKEN'"
            )

    def require_roles(self, operation: str, roles: Iterable[str]) -> Principal:
        """Return the caller when its token carries one of ``roles``; raise otherwise."""
        wanted = sorted(set(roles))
        if self.principal is None:
            reason = "invalid or unknown API token" if self.sent_credentials else "authentication required"
            raise AuthenticationRequired(
                f"{reason}; {operation} needs a token with role {' or '.join(wanted)}"
                " sent as 'Authorization: Bearer TOKEN'"
            )
        if not self.principal.has_any(wanted):
            raise PermissionDenied(
                f"permission denied: {operation} needs role {' or '.join(wanted)}; token"
                f" {self.principal.token_name!r} has {', '.join(sorted(self.principal.roles))}"
            )
        return self.principal

    def change_context(self, principal: Principal) -> ChangeContext:
        """Return the change context of a write by ``principal`` under this request's id."""
        return ChangeContext(actor=principal.actor, origin=Origin.API, request_id=self.request_id)
