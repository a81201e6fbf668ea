"""Service defaults: what every FastAPI service gets with one call.

JSON logs, a request id on every request (taken from the gateway's ``X-Request-ID`` or made
here), one log line per request, Prometheus metrics on ``/metrics`` (request latency per route,
plus what the service registers itself), OpenTelemetry traces when an exporter is set
(common/tracing.py), health endpoints and API docs under the service's own prefix
(``/api/<name>/docs``) so the gateway can route them like the API. The gateway proxies only
``/api/``: health and metrics are for probes and scrapers inside the deployment.

Each part lives in a module of its own (common/request_body.py, request_log.py,
validation_errors.py, health.py, docs.py, allow.py); this one puts them together.
"""

import re
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager

import structlog
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator
from pymongo.errors import ConnectionFailure

from common.allow import CompleteAllowHeader
from common.docs import add_docs
from common.errors import RetryLater
from common.health import ReadinessCheck, health_router
from common.logging import configure_logging
from common.request_body import text_only
from common.request_log import RequestLog
from common.tracing import configure_tracing
from common.validation_errors import invalid_request

# Probes and scrapes: neither timed nor traced.
UNOBSERVED = ("/healthz", "/readyz", "/metrics")
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

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
        ``app.state``. A database that stops answering mid-request is a 503, not a 500; a limit
    that refuses (``Limited``, common/limits.py) is a 429 with ``Retry-After``, a busy
    replica's refusal (``Overloaded``, common/admission.py) a 503 with it (``RetryLater``).
    """
    configure_logging(name, log_level)
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        docs_url=None,  # add_docs: Swagger UI from our own files, not a CDN
        redoc_url=None,
        openapi_url=f"/api/{name}/openapi.json",
        dependencies=[Depends(text_only)],
    )
    add_docs(app, docs_url=f"/api/{name}/docs", openapi_url=f"/api/{name}/openapi.json")
    app.add_middleware(RequestLog)
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name="X-Request-ID",
        generator=lambda: uuid.uuid4().hex,
        validator=lambda value: bool(_REQUEST_ID.match(value)),
        transformer=lambda value: value,
    )
    app.add_middleware(CompleteAllowHeader, openapi=app.openapi)
    app.exception_handler(RequestValidationError)(invalid_request)

    @app.exception_handler(ConnectionFailure)
    async def database_unavailable(_request: Request, exc: ConnectionFailure) -> JSONResponse:
        log.error("database unavailable", error=str(exc))
        return JSONResponse({"detail": "database unavailable, try again"}, status_code=503)

    @app.exception_handler(RetryLater)
    async def retry_later(_request: Request, exc: RetryLater) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.message},
            status_code=exc.status,
            headers={"Retry-After": str(exc.retry_after_seconds)},
        )

    app.include_router(health_router(readiness(app), informational(app)))
    if configure_tracing(name):
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls=",".join(UNOBSERVED))
    Instrumentator(excluded_handlers=list(UNOBSERVED)).instrument(
        app, latency_lowr_buckets=LATENCY_BUCKETS
    ).expose(app, include_in_schema=False)
    return app
