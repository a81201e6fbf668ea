"""The outbox relay: publishes the event each post carries, once the broker has confirmed it.

- Fast path: right after the insert, the request hands the event to this replica's relay, which
  publishes it (batched with whatever else is waiting, confirms awaited together) and marks the
  batch published in one update by ``_id``. The insert claimed the event for ``claim_timeout``,
  so no other replica touches it meanwhile.
- Sweep: whatever was left behind (broker down, replica died, publish failed) falls due when its
  claim runs out. One replica at a time holds the sweep lease and publishes due events in
  batches; the query reads only pending events (a sparse index), never the whole collection.

Delivery is at-least-once: an event may be published twice (a replica stalls past its claim,
the lease moves while a sweep runs), and the idempotent consumer absorbs it. Nothing is lost:
an event leaves the outbox only once the broker has confirmed it.
"""

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass
from datetime import timedelta

import structlog
from asgi_correlation_id import correlation_id
from bson import ObjectId
from prometheus_client import Counter, Gauge, Histogram
from pydantic import ValidationError

from common.clock import utc_now
from common.events import Event, event_for
from common.messaging import Broker, EventPublisher
from common.mongo import Document
from common.tasks import BackgroundTasks, next_batch
from post_service.store import PostStore

log = structlog.get_logger(__name__)

PENDING_EVENTS = Gauge("outbox_pending_events", "Events stored and not yet published")
PUBLISH_LATENCY = Histogram(
    "outbox_publish_latency_seconds",
    "From the event (made with its post) to the broker's confirm",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
PUBLISHED = Counter("outbox_published_events", "Events published and marked", ["path"])

SWEEP_LEASE = "outbox-sweep"
SWEEP_READ_BATCHES = 10


@dataclass(frozen=True)
class Pending:
    post_id: ObjectId
    event: Event
    correlation: str | None


class OutboxRelay:
    def __init__(
        self,
        store: PostStore,
        broker: Broker,
        publisher: EventPublisher,
        poll_interval: timedelta,
        claim_timeout: timedelta,
        batch_size: int = 500,
    ) -> None:
        self._store = store
        self._broker = broker
        self._publisher = publisher
        self._poll_interval = poll_interval.total_seconds()
        self.claim_timeout = claim_timeout
        self._batch_size = batch_size
        # Bounded: past it, events simply wait for the sweep.
        self._queue: asyncio.Queue[Pending] = asyncio.Queue(maxsize=10 * batch_size)
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._tasks = BackgroundTasks("outbox")
        # A sweep starts at once when the broker (re)connects: an outage's backlog is due.
        self._sweep_now = asyncio.Event()
        broker.on_connected(self._sweep_now.set)

    def start(self) -> None:
        self._tasks.start(self._publish_loop(), "publish")
        self._tasks.start(self._sweep_loop(), "sweep")

    async def stop(self, grace: float = 5.0) -> None:
        """Publish what the fast path holds (up to ``grace`` seconds), then stop and hand the
        sweep lease on."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._queue.join()
        await self._tasks.stop()
        # Briefly: MongoDB may be stopping too (`make run`'s Ctrl-C stops everything at once), and
        # the lease expires by itself anyway.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await self._store.release_lease(SWEEP_LEASE, self._holder)

    @property
    def claim(self) -> timedelta:
        """How long a new event is left to this replica's fast path: not at all while the
        broker is away, so the sweep takes it as soon as the broker is back."""
        return self.claim_timeout if self._broker.is_connected else timedelta(0)

    def submit(self, post_id: ObjectId, event: Event, correlation: str | None) -> None:
        """Publish a just-stored event soon; if this replica cannot, the sweep will."""
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(Pending(post_id, event, correlation))

    async def _publish_loop(self) -> None:
        while True:
            batch = await next_batch(self._queue, self._batch_size)
            try:
                await self.publish(batch, path="fast")
            except Exception:
                log.exception("outbox publish failed, the sweep will retry")
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _sweep_loop(self) -> None:
        while True:
            self._sweep_now.clear()
            try:
                await self.sweep()
            except Exception:
                log.exception("outbox sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sweep_now.wait(), self._poll_interval)

    async def sweep(self) -> int:
        """Publish due events in batches while this replica holds the lease; returns how many.

        Due events are read many batches at a time (the read's cost is what it returns, so fewer,
        larger reads cost less). The lease holder also reports the pending count.
        """
        lease_ttl = max(self.claim_timeout, timedelta(seconds=3 * self._poll_interval))
        if not await self._store.hold_lease(SWEEP_LEASE, self._holder, lease_ttl):
            return 0
        PENDING_EVENTS.set(await self._store.count_pending())
        published, read_size = 0, SWEEP_READ_BATCHES * self._batch_size
        while self._broker.is_connected:
            due = await self._store.due_events(read_size)
            for start in range(0, len(due), self._batch_size):
                chunk = due[start : start + self._batch_size]
                batch = [pending for doc in chunk if (pending := await self._pending(doc))]
                done = await self.publish(batch, path="sweep")
                published += done
                if done < len(batch) or not await self._store.hold_lease(
                    SWEEP_LEASE, self._holder, lease_ttl
                ):
                    return published
            if len(due) < read_size:
                break
        return published

    async def _pending(self, doc: Document) -> Pending | None:
        outbox = doc["outbox"]
        try:
            event = event_for(outbox["routing_key"]).model_validate(outbox["event"])
        except (
            LookupError,
            ValidationError,
        ) as exc:  # can never be published: keep it, out of the way
            log.error("outbox event invalid, set aside", post_id=str(doc["_id"]), error=str(exc))
            await self._store.mark_failed(doc["_id"], str(exc))
            return None
        return Pending(doc["_id"], event, outbox.get("correlation_id"))

    async def publish(self, batch: list[Pending], path: str) -> int:
        """Publish a batch with confirms awaited together; mark what the broker took."""
        if not batch:
            return 0
        results = await asyncio.gather(*(self._publish_one(p) for p in batch))
        confirmed = [p.post_id for p, ok in zip(batch, results, strict=True) if ok]
        if confirmed:
            await self._store.mark_published(confirmed)
            PUBLISHED.labels(path).inc(len(confirmed))
        if len(confirmed) < len(batch):  # due at once: the sweep retries when it can
            failed = [p.post_id for p, ok in zip(batch, results, strict=True) if not ok]
            await self._store.release(failed)
        return len(confirmed)

    async def _publish_one(self, pending: Pending) -> bool:
        correlation_id.set(pending.correlation)  # this task's own context
        try:
            await self._publisher.publish(pending.event, pending.correlation)
        except Exception as exc:
            log.warning(
                "event not published, will retry", event_id=pending.event.event_id, error=repr(exc)
            )
            return False
        PUBLISH_LATENCY.observe((utc_now() - pending.event.occurred_at).total_seconds())
        log.info("event published", event_id=pending.event.event_id, **pending.event.subject())
        return True
