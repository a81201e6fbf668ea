"""Parts with background work, run for the length of a service's lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar


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
