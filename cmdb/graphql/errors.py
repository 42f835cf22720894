"""Errors a client may see as GraphQL errors, and the masking of every other exception.

Expected failures of a request (not found, stale version, invalid input) are
union results, not errors. The exceptions here are for what a union cannot
express: a missing token, a missing role, an argument out of range. Any other
exception is logged with the request id and reaches the client as a generic
message that quotes the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

logger = logging.getLogger(__name__)

# Values quoted in messages are cut to this many characters, so a huge key, cursor or name sent by a
# client does not come back whole in the error.
MAX_QUOTED_CHARS = 80
# Lists of offending values in a message name this many and count the rest.
MAX_QUOTED_VALUES = 5


def shorten(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """Return ``text``, or its first ``limit`` characters ending in "..." when it is longer."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote(value: str) -> str:
    """Return ``value`` quoted for a message, shortened to at most ``MAX_QUOTED_CHARS`` characters."""
    return repr(shorten(value))


def quote_all(values: Sequence[str]) -> str:
    """Return the first few ``values`` quoted and comma-separated, with a count of those left out."""
    listed = ", ".join(quote(value) for value in values[:MAX_QUOTED_VALUES])
    left_out = len(values) - MAX_QUOTED_VALUES
    return f"{listed} and {left_out} more" if left_out > 0 else listed


class ClientError(Exception):
    """Base of the errors whose message is safe and useful to show to the client."""


class AuthenticationRequired(ClientError):
    """The request has no valid token and the operation needs one."""


class PermissionDenied(ClientError):
    """The token is valid but lacks a role the operation needs."""


class InvalidArgument(ClientError):
    """An argument outside its allowed range, such as a page size over 500."""


def is_unexpected(error: GraphQLError) -> bool:
    """Return True for an error raised by a resolver that is no ClientError: a bug or an outage."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    return not isinstance(original, ClientError)


class MaskUnexpectedErrors(SchemaExtension):
    """Log unexpected resolver exceptions with the request id and replace their message."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        request_id = getattr(self.execution_context.context, "request_id", "-")
        masked: list[GraphQLError] = []
        for error in result.errors:
            if not is_unexpected(error):
                masked.append(error)
                continue
            logger.error(
                "unexpected error in request %s at %s",
                request_id,
                ".".join(str(part) for part in error.path or []),
                exc_info=error.original_error,
            )
            masked.append(
                GraphQLError(
                    f"internal error; the server log has the details under request id {request_id}",
                    nodes=error.nodes,
                    source=error.source,
                    positions=error.positions,
                    path=error.path,
                    original_error=None,
                )
            )
        result.errors = masked
