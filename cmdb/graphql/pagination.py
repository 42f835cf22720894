"""Relay-style connection pieces shared by every paginated field, and page-size checks."""

from __future__ import annotations

import base64
import binascii

import strawberry

from cmdb.graphql.errors import InvalidArgument
from cmdb.store.base import MAX_PAGE_SIZE

DEFAULT_PAGE_SIZE = 50


@strawberry.type(description="Where a page ends and whether another follows.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def check_page_size(first: int) -> int:
    """Return ``first`` when it is a valid page size; raise InvalidArgument otherwise."""
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidArgument(
            f"invalid page size first={first}; use 1 to {MAX_PAGE_SIZE} and follow pageInfo.endCursor"
            " for more"
        )
    return first


def encode_offset_cursor(kind: str, offset: int) -> str:
    """Return an opaque cursor that points just past item ``offset`` of a list of ``kind``."""
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode("ascii")


def decode_offset_cursor(kind: str, cursor: str | None) -> int:
    """Return the offset of the item after ``cursor``: 0 without a cursor; raise for a foreign one."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8")
        prefix, _, number = text.partition(":")
        offset = int(number)
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidArgument(
            f"invalid cursor {cursor!r}; pass an endCursor or edge cursor from this field"
        ) from None
    if prefix != kind or offset < 0:
        raise InvalidArgument(f"invalid cursor {cursor!r}; pass an endCursor or edge cursor from this field")
    return offset + 1
