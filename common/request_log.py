"""One log line per request, and a 500 for whatever the route left unhandled."""

import time
from collections.abc import Awaitable, Callable

import structlog
from asgi_correlation_id import correlation_id
from fastapi import Request, Response
from fastapi.responses import JSONResponse

log = structlog.get_logger("http")


async def log_request(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """HTTP middleware: the request's method, path, status and duration (probes left out)."""
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
