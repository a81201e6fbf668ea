"""Service defaults: what every FastAPI service gets with one call.

JSON logs, a request id on every request (taken from the gateway's ``X-Request-ID`` or made
here), one log line per request, Prometheus metrics on ``/metrics`` (request latency per route,
plus what the service registers itself), health endpoints and API docs under the service's own
prefix (``/api/<name>/docs``) so the gateway can route them like the API. The gateway proxies
only ``/api/``: health and metrics are for probes and scrapers inside the deployment.
"""

import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeVar

import structlog
import uvicorn
from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator
from pymongo.errors import ConnectionFailure

from common.allow import CompleteAllowHeader
from common.docs import add_docs
from common.health import ReadinessCheck, health_router
from common.logging import configure_logging
from common.mongo import Database, open_database
from common.settings import ServiceSettings

LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

T = TypeVar("T")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")

log = structlog.get_logger("http")

# In a parsed str, U+D800 to U+DFFF is a lone surrogate: not text, so it has no UTF-8 encoding.
_SURROGATE = re.compile(r"[\ud800-\udfff]")

Loc = tuple[str | int, ...]


def _lone_surrogate(value: Any) -> Loc | None:
    """Where in a parsed JSON value a string (or a key) holds a lone surrogate, if anywhere."""
    stack: list[tuple[Loc, Any]] = [((), value)]
    while stack:
        loc, item = stack.pop()
        if isinstance(item, str) and _SURROGATE.search(item):
            return loc
        if isinstance(item, dict):
            if any(_SURROGATE.search(key) for key in item):
                return loc
            stack.extend(((*loc, key), child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend(((*loc, index), child) for index, child in enumerate(item))
    return None


async def _text_only(request: Request) -> None:
    """Refuse a JSON body with a lone surrogate (``"\\ud800"``), which Python's parser accepts:
    such a string could not be stored, nor encoded in an answer or a log line."""
    body = await request.body()
    if body.isascii() and b"\\u" not in body:
        return  # no escape and no raw non-ASCII byte: nothing can hide there
    try:
        value = await request.json()  # FastAPI's own parse, cached on the request
    except (ValueError, RecursionError):
        return  # not JSON: FastAPI answers that
    if (loc := _lone_surrogate(value)) is not None:
        raise RequestValidationError(
            [
                {
                    "type": "string_unicode",
                    "loc": ("body", *loc),
                    "msg": "Input should be a valid string, unable to parse raw data as a "
                    "unicode string",
                }
            ]
        )


def _encodable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode()


def _without_input(error: Mapping[str, Any]) -> dict[str, Any]:
    """A validation error as answered: no ``input`` (the submitted value, a password say), no
    ``ctx`` value but plain JSON (a validator's ``ValueError``), and nothing that cannot be
    encoded."""
    public: dict[str, Any] = {
        "type": error["type"],
        "loc": [_encodable(part) if isinstance(part, str) else part for part in error["loc"]],
        "msg": _encodable(error["msg"]),
    }
    ctx = {
        key: _encodable(value) if isinstance(value, str) else value
        for key, value in error.get("ctx", {}).items()
        if isinstance(value, str | int) or (isinstance(value, float) and math.isfinite(value))
    }
    if ctx:
        public["ctx"] = ctx
    return public


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
        docs_url=None,  # add_docs: Swagger UI from our own files, not a CDN
        redoc_url=None,
        openapi_url=f"/api/{name}/openapi.json",
        dependencies=[Depends(_text_only)],
    )
    add_docs(app, docs_url=f"/api/{name}/docs", openapi_url=f"/api/{name}/openapi.json")

    @app.middleware("http")
    async def log_request(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            # Answered here: past this point Starlette re-raises to uvicorn, which then closes
            # the connection, and the gateway's next request on it would fail (502).
            log.exception("unhandled error", method=request.method, path=request.url.path)
            response = JSONResponse(
                {"detail": "internal error", "request_id": correlation_id.get()}, status_code=500
            )
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
    app.add_middleware(CompleteAllowHeader, openapi=app.openapi)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": [_without_input(error) for error in exc.errors()]}, status_code=422
        )

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
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        # Longer than the gateway keeps an idle upstream connection (nginx's upstream
        # keepalive_timeout, 60 s): nginx, not uvicorn, closes it, so nginx never sends a
        # request on a connection that uvicorn is closing at that moment (a 502 for a POST).
        timeout_keep_alive=75,
    )
