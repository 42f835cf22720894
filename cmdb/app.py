"""The FastAPI application: GraphQL at /graphql, health, readiness and Prometheus metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.fastapi import GraphQLRouter

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
        return Context(
            services=services,
            request_id=request.state.request_id,
            principal=authenticate(store=graph_store, authorization_header=authorization),
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
    app.add_middleware(RequestIdMiddleware, metrics=HTTPMetrics(registry))
    graphql_router: GraphQLRouter[Context, None] = GraphQLRouter(
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
            graph_store.ping()
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
