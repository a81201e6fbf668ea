"""Load shedding: a replica takes on only as much of one kind of work as it can finish soon.

At most ``limit`` requests of the kind are at work at once in this replica; twice as many may
wait their turn, first come first served, for at most ``max_wait``. A request that finds the
waiting room full, or is still waiting then, is refused with ``503`` and ``Retry-After``
(common/service.py) and has done nothing, so its client may send it again later (the web client
does). The short waiting room keeps the wait of those let in near one request's service time.
Without any of it, past the replica's capacity every request is accepted and all of them slow
down together, until answers take seconds and clients time out on work that was in fact done.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from prometheus_client import Counter, Gauge

from common.errors import ResponsesDoc, RetryLater, retry_later

SHED = Counter("admission_shed_requests", "Requests refused with 503: replica busy", ["kind"])
AT_WORK = Gauge("admission_at_work", "Requests admitted and not yet done", ["kind"])


class Overloaded(RetryLater):
    """Refused for now, the replica busy: ``503`` with ``Retry-After``."""


def busy(description: str) -> ResponsesDoc:
    """The ``503`` of an operation behind an ``Admission``, for its route's ``responses`` (it
    says what else a 503 of the route means too: one status, one entry)."""
    return retry_later(Overloaded.status, description)


class Admission:
    def __init__(
        self,
        kind: str,
        limit: int,
        max_wait: timedelta,
        message: str = "the service is busy, try again shortly",
    ) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._waiting_room = 2 * limit
        self._waiting = 0
        self._max_wait = max_wait.total_seconds()
        self._kind = kind
        self._message = message
        # Long enough for the queue ahead to clear, short enough that a person waits it out.
        self._retry_after = max(max_wait, timedelta(seconds=1))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """A place at work for the block, or ``Overloaded``: the waiting room is full, or
        ``max_wait`` has passed."""
        if self._slots.locked() and self._waiting >= self._waiting_room:
            raise self._refused()
        self._waiting += 1
        try:
            async with asyncio.timeout(self._max_wait):
                await self._slots.acquire()
        except TimeoutError:
            raise self._refused() from None
        finally:
            self._waiting -= 1
        AT_WORK.labels(self._kind).inc()
        try:
            yield
        finally:
            AT_WORK.labels(self._kind).dec()
            self._slots.release()

    def _refused(self) -> Overloaded:
        SHED.labels(self._kind).inc()
        return Overloaded(self._message, self._retry_after)
