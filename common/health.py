"""Liveness and readiness endpoints, the same for every service."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[object]]

log = structlog.get_logger(__name__)


def health_router(
    checks: Mapping[str, ReadinessCheck],
    informational: Mapping[str, ReadinessCheck] | None = None,
    timeout: float = 2.0,
) -> APIRouter:
    """``/healthz``: the process answers. ``/readyz``: every dependency in ``checks`` answers.

    A check passes when it returns (any value) within ``timeout`` seconds and fails when it
    raises or is late; readiness is 503 while any check fails, so a load balancer skips the pod.
    ``informational`` checks are reported but never fail readiness: a dependency the service
    keeps working without (the broker, for a service with an outbox) must not take it out.
    """
    informational = informational or {}
    # Not in the OpenAPI document: that document describes the API through the gateway, which
    # does not route these (its own /healthz answers for nginx; probes call the service's port).
    router = APIRouter(tags=["health"], include_in_schema=False)

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Every dependency answers")
    async def readyz() -> JSONResponse:
        async def run(name: str, check: ReadinessCheck) -> tuple[str, str]:
            try:
                async with asyncio.timeout(timeout):
                    await check()
            except Exception as exc:  # any failure means "not ready"
                log.warning("readiness check failed", check=name, error=repr(exc))
                return name, "unavailable"
            return name, "ok"

        everything = {**checks, **informational}
        results = dict(await asyncio.gather(*(run(n, c) for n, c in everything.items())))
        ready = all(results[name] == "ok" for name in checks)
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": results},
            status_code=200 if ready else 503,
        )

    return router
