"""The GraphQL schema: its root types, extensions and SDL export."""

from __future__ import annotations

import logging
from collections.abc import Callable

import strawberry
from graphql import GraphQLError
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
    ]
    return CMDBSchema(query=Query, mutation=Mutation, extensions=extensions)


def export_sdl() -> str:
    """Return the schema in GraphQL SDL, ending with a newline, as written to schema.graphql."""
    return create_schema().as_str().rstrip("\n") + "\n"
