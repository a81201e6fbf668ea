"""Service defaults: what every FastAPI service gets with one call.

JSON logs, a request id on every request (taken from the gateway's ``X-Request-ID`` or made
here), one log line per request, Prometheus metrics on ``/metrics`` (request latency per route,
plus what the service registers itself), health endpoints and API docs under the service's own
prefix (``/api/<name>/docs``) so the gateway can route them like the API. The gateway proxies
only ``/api/``: health and metrics are for probes and scrapers inside the deployment.
"""

import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeVar

import structlog
import uvicorn
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator
from pymongo.errors import ConnectionFailure

from common.health import ReadinessCheck, health_router
from common.logging import configure_logging
from common.mongo import Database, open_database
from common.pagination import InvalidCursor
from common.settings import ServiceSettings

LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

T = TypeVar("T")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")

log = structlog.get_logger("http")


def create_service_app(
    *,
    name: str,
    title: str,
    log_level: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    readiness: Callable[[FastAPI], Mapping[str, ReadinessCheck]],
    informational: Callable[[FastAPI], Mapping[str, ReadinessCheck]] = lambda _app: {},
) -> FastAPI:
    """A FastAPI app with the shared middleware, health routes and docs location.

    ``readiness(app)`` gives the checks for ``/readyz`` (``informational(app)`` those reported
    but not required); they run per request, so they may use clients that ``lifespan`` puts on
    ``app.state``. A database that stops answering mid-request is a 503, not a 500.
    """
    configure_logging(name, log_level)
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        docs_url=f"/api/{name}/docs",
        redoc_url=None,
        openapi_url=f"/api/{name}/openapi.json",
    )

    @app.middleware("http")
    async def log_request(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        if request.url.path not in ("/healthz", "/readyz"):
            log.info(
                "request",
                method=request.method,
                path=request.url.path,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
        return response

    app.add_middleware(
        CorrelationIdMiddleware,
        header_name="X-Request-ID",
        generator=lambda: uuid.uuid4().hex,
        validator=lambda value: bool(_REQUEST_ID.match(value)),
        transformer=lambda value: value,
    )

    @app.exception_handler(InvalidCursor)
    async def invalid_cursor(_request: Request, exc: InvalidCursor) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(ConnectionFailure)
    async def database_unavailable(_request: Request, exc: ConnectionFailure) -> JSONResponse:
        log.error("database unavailable", error=str(exc))
        return JSONResponse({"detail": "database unavailable, try again"}, status_code=503)

    app.include_router(health_router(readiness(app), informational(app)))
    Instrumentator(excluded_handlers=["/healthz", "/readyz", "/metrics"]).instrument(
        app, latency_lowr_buckets=LATENCY_BUCKETS
    ).expose(app, include_in_schema=False)
    return app


def from_state(name: str, kind: type[T]) -> Any:
    """A FastAPI dependency on ``app.state.<name>`` (set by the lifespan), typed as ``kind``:
    ``Posts = Annotated[PostStore, from_state("posts", PostStore)]``."""

    def dependency(request: Request) -> T:
        value = getattr(request.app.state, name)
        if not isinstance(value, kind):
            raise TypeError(f"app.state.{name} is {type(value).__name__}, not {kind.__name__}")
        return value

    return Depends(dependency)


class Component(Protocol):
    """A part with background work: the broker connection, the outbox relay, a consumer."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


C = TypeVar("C", bound=Component)


@asynccontextmanager
async def running(component: C) -> AsyncIterator[C]:
    """``component`` started for the block, and stopped after it (on an error too)."""
    component.start()
    try:
        yield component
    finally:
        await component.stop()


@asynccontextmanager
async def service_database(app: FastAPI, settings: ServiceSettings) -> AsyncIterator[Database]:
    """The service's own database for the block; the client is ``app.state.mongo`` (readiness)."""
    app.state.mongo, db = await open_database(settings.mongo_url, settings.mongo_db)
    try:
        yield db
    finally:
        await app.state.mongo.close()


def serve(app: FastAPI, host: str, port: int) -> None:
    """Run under uvicorn with our logging (no second access log: ``log_request`` writes it)."""
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, proxy_headers=True)
