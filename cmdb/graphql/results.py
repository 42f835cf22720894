"""Union members for the expected failures of a request, and the result of a batch write."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import strawberry
from pydantic import ValidationError

from cmdb.graphql.errors import quote, shorten
from cmdb.store.base import RowError
from cmdb.store.base import UpsertResult as StoreUpsertResult

# A value longer than this is cut in the value field of an error, so a large attribute map stays readable.
# Messages quote at most MAX_QUOTED_CHARS of it.
MAX_VALUE_TEXT = 200
# The maximum length of a CI key. A longer key sent by a client is cut like any other value.
MAX_KEY_CHARS = 200

# Keys under these fields are the caller's own names and stay as they were sent.
_FREE_FORM_FIELDS = frozenset({"attributes", "properties"})


@strawberry.type(description="No CI has this key.")
class CINotFound:
    key: str
    message: str

    @classmethod
    def for_key(cls, key: str) -> CINotFound:
        return cls(
            key=shorten(key, MAX_KEY_CHARS),
            message=f"CI {quote(key)} not found; check the key or import the CI first",
        )


@strawberry.type(description='One invalid input field, e.g. {field: "input.0.criticality", value: "high"}.')
class FieldError:
    field: str = strawberry.field(description="Path of the field in the request, dot-separated.")
    message: str
    value: str | None = strawberry.field(description="The offending value as sent, when there is one.")


@strawberry.type(description="The input was invalid; nothing was written.")
class ValidationFailed:
    message: str
    errors: list[FieldError]

    @classmethod
    def from_errors(cls, errors: Sequence[FieldError]) -> ValidationFailed:
        lines = [
            f"{e.field}: {e.message}" + (f" (got {shorten(e.value)})" if e.value is not None else "")
            for e in errors
        ]
        noun = "problem" if len(errors) == 1 else "problems"
        return cls(message=f"invalid input, {len(errors)} {noun}: " + "; ".join(lines), errors=list(errors))

    @classmethod
    def single(cls, field: str, message: str, value: object = None) -> ValidationFailed:
        return cls.from_errors([FieldError(field=field, message=message, value=_value_text(value))])


@strawberry.type(description="Another write came first: the stored version is not the expected one.")
class VersionConflict:
    key: str
    expected_version: int
    actual_version: int
    message: str


@strawberry.type(name="UpsertResult", description="Counts of a batch write; every row was written.")
class UpsertResultType:
    added: int
    updated: int
    unchanged: int

    @classmethod
    def from_store(cls, result: StoreUpsertResult) -> UpsertResultType:
        return cls(added=result.added, updated=result.updated, unchanged=result.unchanged)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _value_text(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= MAX_VALUE_TEXT else text[: MAX_VALUE_TEXT - 3] + "..."


def _field_path(prefix: Sequence[str | int], location: Sequence[str | int]) -> str:
    parts: list[str] = [str(p) for p in prefix]
    free_form = False
    for part in location:
        if isinstance(part, str) and not free_form:
            parts.append(_camel(part))
            free_form = part in _FREE_FORM_FIELDS
        else:
            parts.append(str(part))
    return ".".join(parts)


def field_errors(error: ValidationError, prefix: Sequence[str | int] = ()) -> list[FieldError]:
    """Return one FieldError per pydantic error, with GraphQL field names under ``prefix``."""
    found: list[FieldError] = []
    for item in error.errors():
        message = re.sub(r"^Value error, ", "", item["msg"])
        value: Any = item.get("input")
        if item["type"] == "missing":
            message, value = "missing; add this field", None
        elif isinstance(value, dict):
            # A whole object: the message already names what is wrong inside it.
            value = None
        found.append(
            FieldError(field=_field_path(prefix, item["loc"]), message=message, value=_value_text(value))
        )
    return found


def rejected_row_errors(rows: Sequence[RowError], prefix: str = "input") -> list[FieldError]:
    """Return one FieldError per row a store rejected, pointing at the row in the request."""
    return [
        FieldError(field=f"{prefix}.{row.index}", message=row.message, value=_value_text(row.key))
        for row in rows
    ]
