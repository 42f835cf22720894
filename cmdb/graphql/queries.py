"""The root Query type: look up a CI, search CIs, and analyse impact."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from typing import Annotated

import strawberry

from cmdb.graphql import fields
from cmdb.graphql.context import Context
from cmdb.graphql.errors import InvalidArgument, quote, quote_all
from cmdb.graphql.impact_types import ImpactReportType
from cmdb.graphql.inputs import CIFilterInput, ImpactInput
from cmdb.graphql.pagination import DEFAULT_PAGE_SIZE, PageInfo, check_page_size
from cmdb.graphql.results import CINotFound, ValidationFailed
from cmdb.graphql.types import CIConnection, CIEdge, CIType
from cmdb.impact import ImpactRequest, analyze
from cmdb.model import CI_CLASSES, Criticality, Status
from cmdb.store.base import MAX_PAGE_SIZE, CIFilter, CINotFoundError, GraphStore, Page

logger = logging.getLogger(__name__)

# Roots, overrides and open incidents named in one impact question.
MAX_IMPACT_KEYS = 1000
# Cursors the server issues are a few hundred characters long: a store cursor of a key of at most
# 200 characters, in JSON, in base64.
MAX_CURSOR_CHARS = 1024

CIResult = Annotated[CIType | CINotFound, strawberry.union("CIResult")]
ImpactResult = Annotated[ImpactReportType | CINotFound | ValidationFailed, strawberry.union("ImpactResult")]


def _check_values(field: str, values: list[str] | None, allowed: list[str]) -> tuple[str, ...]:
    checked = tuple(values or ())
    unknown = [value for value in checked if value not in allowed]
    if unknown:
        raise InvalidArgument(
            f"invalid filter.{field} {quote_all(unknown)}; use one of: {', '.join(allowed)}"
        )
    return checked


def to_store_filter(ci_filter: CIFilterInput | None) -> CIFilter:
    """Return the store's filter for ``ci_filter``; raise InvalidArgument for an unknown value."""
    if ci_filter is None:
        return CIFilter()
    classes = _check_values("classes", ci_filter.classes, sorted(CI_CLASSES))
    criticalities = _check_values("criticalities", ci_filter.criticalities, [c.value for c in Criticality])
    statuses = _check_values("statuses", ci_filter.statuses, [s.value for s in Status])
    return CIFilter(
        ci_classes=classes,
        criticalities=tuple(Criticality(c) for c in criticalities),
        statuses=tuple(Status(s) for s in statuses),
        tag=ci_filter.tag.strip().lower() if ci_filter.tag else None,
        text=ci_filter.text,
    )


def _invalid_cursor(cursor: str) -> InvalidArgument:
    return InvalidArgument(f"invalid cursor {quote(cursor)}; pass an endCursor or edge cursor from cis")


# An API cursor is the store's cursor at the start of a page plus a count of rows to skip after it,
# so that every edge has a cursor although the store hands out one cursor per page. The first page
# has no store cursor, so its edge cursors count rows from the start: 1 to MAX_PAGE_SIZE.
def _encode_cursor(store_cursor: str | None, skip: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([store_cursor, skip]).encode()).decode("ascii")


def _decode_cursor(cursor: str) -> tuple[str | None, int]:
    """Return the store cursor and skip count of ``cursor``; raise InvalidArgument for any other text.

    Only the exact shape the server issues is accepted: a two-item JSON list of a non-empty store cursor
    or null, and an integer skip within a page (at least 1 after null), encoded as ``_encode_cursor`` does.
    """
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid_cursor(cursor)
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (binascii.Error, UnicodeError, ValueError):
        raise _invalid_cursor(cursor) from None
    if not isinstance(decoded, list) or len(decoded) != 2:
        raise _invalid_cursor(cursor)
    store_cursor, skip = decoded
    if isinstance(skip, bool) or not isinstance(skip, int):
        raise _invalid_cursor(cursor)
    if store_cursor is None:
        valid = 1 <= skip <= MAX_PAGE_SIZE
    else:
        valid = isinstance(store_cursor, str) and store_cursor != "" and 0 <= skip <= MAX_PAGE_SIZE
    # Re-encoding must give the same text, which rejects added spaces, padding or characters.
    if not valid or _encode_cursor(store_cursor, skip) != cursor:
        raise _invalid_cursor(cursor)
    return store_cursor, skip


def search_page(
    store: GraphStore, ci_filter: CIFilter, *, first: int, after: str | None
) -> tuple[Page, str | None]:
    """Return the page of ``first`` CIs after the API cursor ``after``, with the store cursor it starts at."""
    store_cursor: str | None = None
    try:
        if after is not None:
            store_cursor, skip = _decode_cursor(after)
            if skip:
                skipped = store.search_cis(ci_filter, first=skip, after=store_cursor)
                if not skipped.has_next:
                    return Page(items=[], has_next=False, end_cursor=None, total=skipped.total), None
                store_cursor = skipped.end_cursor
        return store.search_cis(ci_filter, first=first, after=store_cursor), store_cursor
    except ValueError as error:
        # The store rejects a cursor it did not issue, e.g. one edited by hand.
        raise _invalid_cursor(after or "") from error


def impact_request(payload: ImpactInput) -> ImpactRequest | ValidationFailed:
    roots = {}
    for index, root in enumerate(payload.roots):
        if root.ci in roots:
            return ValidationFailed.single(
                f"input.roots.{index}.ci", "root named twice; name it once", root.ci
            )
        roots[root.ci] = root.mode.to_model()
    overrides = frozenset(payload.overrides or [])
    incidents = {incident.ci: incident.state.to_model() for incident in payload.open_incidents or []}
    named = len(roots) + len(overrides) + len(incidents)
    if named > MAX_IMPACT_KEYS:
        return ValidationFailed.single(
            "input", f"too many CIs ({named}) in one impact question; name at most {MAX_IMPACT_KEYS}", named
        )
    if not roots:
        return ValidationFailed.single("input.roots", "an impact question needs at least one root CI")
    if not 1 <= payload.urgency <= 3:
        return ValidationFailed.single(
            "input.urgency", "invalid urgency; use 1 (high), 2 or 3 (low)", payload.urgency
        )
    return ImpactRequest(roots=roots, overrides=overrides, open_incidents=incidents, urgency=payload.urgency)


@strawberry.type
class Query:
    @fields.field(description="The CI with this key.")
    async def ci(self, info: strawberry.Info[Context, None], key: str) -> CIResult:
        info.context.require_reader()
        # The data loader reads the store in a worker thread and batches aliased lookups.
        record = await info.context.ci_loader.load(key)
        if record is None:
            return CINotFound.for_key(key)
        return CIType.from_record(record)

    @fields.field(description="CIs matching a filter, ordered by key, first at most 500 per page.")
    async def cis(
        self,
        info: strawberry.Info[Context, None],
        filter: CIFilterInput | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> CIConnection:
        info.context.require_reader()
        check_page_size(first)
        # The store is synchronous; a worker thread keeps the event loop serving other requests.
        page, start_cursor = await asyncio.to_thread(
            search_page, info.context.store, to_store_filter(filter), first=first, after=after
        )
        edges = [
            CIEdge(cursor=_encode_cursor(start_cursor, index + 1), node=CIType.from_record(record))
            for index, record in enumerate(page.items)
        ]
        end_cursor = None
        if edges:
            end_cursor = _encode_cursor(page.end_cursor, 0) if page.end_cursor else edges[-1].cursor
        return CIConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=end_cursor),
            total_count=page.total,
        )

    @fields.field(description="What fails, how badly and who must act when the given roots fail.")
    async def impact(self, info: strawberry.Info[Context, None], input: ImpactInput) -> ImpactResult:
        info.context.require_reader()
        request = impact_request(input)
        if isinstance(request, ValidationFailed):
            return request
        services = info.context.services
        started = time.perf_counter()
        try:
            # A worker thread keeps the event loop answering other requests during a large analysis.
            report = await asyncio.to_thread(
                analyze, store=services.store, request=request, matrix=services.matrix
            )
        except CINotFoundError as error:
            return CINotFound.for_key(error.key)
        services.metrics.impact_seconds.observe(time.perf_counter() - started)
        services.metrics.impacted_cis.observe(len(report.impacted))
        return ImpactReportType.from_report(report)
