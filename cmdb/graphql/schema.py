"""The GraphQL schema: its root types, extensions and SDL export."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLResolveInfo
from strawberry.extensions import SchemaExtension
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from cmdb.graphql.changes import ChangeMutation, ChangeQuery
from cmdb.graphql.discovery import DiscoveryMutation, DiscoveryQuery
from cmdb.graphql.errors import MaskUnexpectedErrors, is_unexpected
from cmdb.graphql.limits import limit_extensions
from cmdb.graphql.metrics import MetricsExtension
from cmdb.graphql.mutations import Mutation as CIMutation
from cmdb.graphql.queries import Query as CIQuery
from cmdb.settings import Settings

logger = logging.getLogger(__name__)

Query = merge_types("Query", (CIQuery, ChangeQuery, DiscoveryQuery))
Mutation = merge_types("Mutation", (CIMutation, ChangeMutation, DiscoveryMutation))


class RunRootResolversInThreads(SchemaExtension):
    """Run each synchronous resolver of a root Query or Mutation field in a worker thread.

    Those resolvers call the synchronous store, and on the event loop one slow call would hold every
    other request, /healthz included. Nested fields that call the store are async and use
    ``asyncio.to_thread`` themselves.
    """

    def resolve(
        self,
        _next: Callable[..., object],
        root: object,
        info: GraphQLResolveInfo[Any],
        *args: str,
        **kwargs: Any,
    ) -> object:
        on_root = info.parent_type in (info.schema.query_type, info.schema.mutation_type)
        if not on_root:
            return _next(root, info, *args, **kwargs)
        field = self.execution_context.schema.get_field_for_type(info.field_name, info.parent_type.name)
        if field is None or field.is_async:
            return _next(root, info, *args, **kwargs)
        return asyncio.to_thread(_next, root, info, *args, **kwargs)


class CMDBSchema(strawberry.Schema):
    """The schema, logging rejected requests briefly; unexpected errors are logged by the masking step."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = getattr(getattr(execution_context, "context", None), "request_id", "-")
        for error in errors:
            if not is_unexpected(error):
                logger.info("request %s rejected: %s", request_id, error.message)


def create_schema(settings: Settings | None = None) -> CMDBSchema:
    """Return the schema with the query limits of ``settings`` (defaults when None)."""
    settings = settings or Settings()
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        *limit_extensions(settings),
        MetricsExtension,
        MaskUnexpectedErrors,
        RunRootResolversInThreads,
    ]
    return CMDBSchema(query=Query, mutation=Mutation, extensions=extensions)


def export_sdl() -> str:
    """Return the schema in GraphQL SDL, ending with a newline, as written to schema.graphql."""
    return create_schema().as_str().rstrip("\n") + "\n"
