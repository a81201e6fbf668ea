"""The outbox relay: publishes the events that posts carry, whenever the broker can take them.

Every replica runs one. A new post wakes the local relay at once (low latency); a slow poll
catches what another replica or an outage left pending. Claims are atomic per event, so several
relays never publish the same event at the same time.
"""

import asyncio
import contextlib
from datetime import timedelta

import structlog
from asgi_correlation_id import correlation_id

from common.events import PostCreated
from common.messaging import Broker, EventPublisher
from post_service.store import PostStore

log = structlog.get_logger(__name__)


class OutboxRelay:
    def __init__(
        self,
        store: PostStore,
        broker: Broker,
        publisher: EventPublisher,
        poll_interval: timedelta,
        claim_timeout: timedelta,
    ) -> None:
        self._store = store
        self._broker = broker
        self._publisher = publisher
        self._poll_interval = poll_interval.total_seconds()
        self._claim_timeout = claim_timeout
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("outbox relay pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval)

    async def drain(self) -> int:
        """Publish due events until none is left or the broker fails; returns how many."""
        published = 0
        while self._broker.is_connected:
            claimed = await self._store.claim_due_event(self._claim_timeout)
            if claimed is None:
                break
            outbox = claimed["outbox"]
            token = correlation_id.set(outbox.get("correlation_id"))
            try:
                event = PostCreated.model_validate(outbox["event"])
                try:
                    await self._publisher.publish(event, outbox.get("correlation_id"))
                except Exception as exc:
                    log.warning(
                        "event not published, will retry",
                        event_id=event.event_id,
                        attempts=outbox["attempts"],
                        error=repr(exc),
                    )
                    break
                await self._store.mark_published(claimed["_id"])
                log.info("event published", event_id=event.event_id, post_id=event.post.id)
                published += 1
            finally:
                correlation_id.reset(token)
        return published
