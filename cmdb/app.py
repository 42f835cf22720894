"""The FastAPI application: GraphQL at /graphql, health, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cross_web import HTTPException
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.fastapi import GraphQLRouter
from strawberry.http.types import QueryParams

from cmdb.auth import authenticate
from cmdb.graphql.context import Context, Services
from cmdb.graphql.metrics import LATENCY_BUCKETS, GraphQLMetrics
from cmdb.graphql.schema import create_schema
from cmdb.impact import PriorityMatrix
from cmdb.settings import Settings, get_settings
from cmdb.store import open_store
from cmdb.store.base import GraphStore

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
# A caller's request id is kept when it is short and made of safe characters; otherwise one is generated.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
# Paths used as metric labels; any other path is counted as "other" so clients cannot add label values.
_KNOWN_PATHS = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def request_id_from(header: str | None) -> str:
    """Return the caller's request id when it is sane, else a new random one."""
    if header is not None and _SANE_REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


class HTTPMetrics:
    """Request counts and latency of every HTTP request, by method, path and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "cmdb_http_requests",
            "HTTP requests served, by method, path and status code.",
            ["method", "path", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "cmdb_http_request_seconds",
            "Time to serve an HTTP request, by method and path.",
            ["method", "path"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


class RequestIdMiddleware:
    """Give each request an id, return it in X-Request-ID, log the request and count it."""

    def __init__(self, app: ASGIApp, metrics: HTTPMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next(
            (
                value.decode("latin-1")
                for name, value in scope["headers"]
                if name == REQUEST_ID_HEADER.encode()
            ),
            None,
        )
        request_id = request_id_from(header)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *[(n, v) for n, v in message["headers"] if n.lower() != REQUEST_ID_HEADER.encode()],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path = scope["path"] if scope["path"] in _KNOWN_PATHS else "other"
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.latency.labels(scope["method"], path).observe(elapsed)
            level = logging.DEBUG if path in _QUIET_PATHS else logging.INFO
            logger.log(
                level,
                "request %s: %s %s -> %d in %.1f ms",
                request_id,
                scope["method"],
                scope["path"],
                status,
                elapsed * 1000,
            )


class BodyTooLargeError(Exception):
    """A request body grew past the size limit while the app read it."""


class BodySizeLimitMiddleware:
    """Reject a request whose body is larger than ``max_bytes`` with 413 before the app parses it.

    A declared Content-Length over the limit is rejected before any byte is read. A body sent without
    one, in chunks, is counted as the app reads it and rejected once it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, send, f"{int(declared)} bytes")
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if response_started:
                raise
            await self._reject(scope, send, f"more than {self.max_bytes} bytes")

    async def _reject(self, scope: Scope, send: Send, size: str) -> None:
        request_id = scope.get("state", {}).get("request_id", "-")
        logger.warning(
            "request %s: request body too large (%s, limit %d bytes)", request_id, size, self.max_bytes
        )
        message = (
            f"request body too large: {size}; the limit is {self.max_bytes} bytes (setting"
            " CMDB_MAX_BODY_BYTES); send large writes in several smaller batches"
        )
        response = PlainTextResponse(message, status_code=413)
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


def _json_type_name(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


class CMDBGraphQLRouter(GraphQLRouter[Context, None]):
    """Strawberry's router, returning 400 with a clear message for a body or parameter it cannot use."""

    def decode_json(self, data: str | bytes) -> object:
        # Strawberry passes the POST body as bytes; GET parameters are str and parsed below.
        if isinstance(data, str):
            return json.loads(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise HTTPException(
                400, f"invalid request body: byte {error.start} is not UTF-8; send JSON encoded as UTF-8"
            ) from None
        try:
            body = json.loads(text)
        except json.JSONDecodeError as error:
            raise HTTPException(400, f"invalid request body: not valid JSON ({error})") from None
        if not isinstance(body, dict):
            raise HTTPException(
                400,
                f"invalid request body: got {_json_type_name(body)}; send one JSON object such as"
                ' {"query": "...", "variables": {...}} (batches are not supported)',
            )
        return body

    def parse_query_params(self, params: QueryParams) -> dict[str, Any]:
        parsed: dict[str, Any] = dict(params)
        for name in ("variables", "extensions"):
            value = params.get(name)
            if not value:
                continue
            try:
                parsed[name] = json.loads(value)
            except json.JSONDecodeError as error:
                raise HTTPException(
                    400, f"invalid {name} parameter: not valid JSON ({error}); send a URL-encoded JSON object"
                ) from None
        return parsed


def create_app(*, settings: Settings | None = None, store: GraphStore | None = None) -> FastAPI:
    """Return the application over ``store``, or over a store opened from ``settings.store``.

    A store passed in stays the caller's to close; a store opened here is closed at shutdown.
    """
    settings = settings or get_settings()
    owns_store = store is None
    graph_store: GraphStore = store if store is not None else open_store(settings.store)

    registry = CollectorRegistry()
    services = Services(
        store=graph_store,
        settings=settings,
        matrix=PriorityMatrix(settings.priority_matrix),
        metrics=GraphQLMetrics(registry),
    )

    async def get_context(request: Request) -> Context:
        authorization = request.headers.get("authorization")
        # The token lookup reads the store, so it runs in a worker thread to keep the event loop free.
        principal = await asyncio.to_thread(
            authenticate, store=graph_store, authorization_header=authorization
        )
        return Context(
            services=services,
            request_id=request.state.request_id,
            principal=principal,
            sent_credentials=bool(authorization),
        )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        logger.info("CMDB API started (GraphiQL %s)", "on" if settings.graphiql else "off")
        try:
            yield
        finally:
            if owns_store:
                graph_store.close()
            logger.info("CMDB API stopped")

    app = FastAPI(title="Clinical CMDB", lifespan=lifespan)
    # The middleware added last runs first: request ids and metrics cover the 413 responses too.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware, metrics=HTTPMetrics(registry))
    graphql_router = CMDBGraphQLRouter(
        create_schema(settings),
        context_getter=get_context,
        graphql_ide="graphiql" if settings.graphiql else None,
    )
    app.include_router(graphql_router, prefix="/graphql")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Report that the process is alive; it does not touch the store."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        """Report whether the store responds to a ping, checked anew on every call."""
        try:
            # A worker thread keeps /healthz and other requests responding while a store hangs.
            await asyncio.to_thread(graph_store.ping)
        except Exception as error:  # any failure of the store means not ready
            reason = f"store unavailable: {type(error).__name__}: {error}"
            logger.warning("request %s: readiness check failed: %s", request.state.request_id, reason)
            return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    async def metrics() -> Response:
        """Return the app's metrics in the Prometheus text format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
