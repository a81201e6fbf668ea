"""The outbox relay: publishes the events an outbox holds (common/outbox.py), any registered
event type, and marks each once the broker has confirmed it.

- Fast path: right after a write, the service hands the events it stored to this replica's
  relay, which publishes them (batched with whatever else is waiting, confirms awaited together)
  and marks them in one bulk write. The write claimed them for ``claim_timeout``, so no other
  replica touches them meanwhile. Events that waited in the fast path past their claim are left
  to the sweep, which may already have published them: the fast path never works through a
  backlog the sweep has taken over (that published everything twice, and fell further behind).
- Sweep: whatever was left behind (broker down, replica died, publish failed) falls due when its
  claim runs out. One replica at a time holds the sweep lease and publishes due events in
  batches; the query reads only pending documents (a sparse index), never the whole collection.

A document's events go out in the order they were added: the first pending event of every
document in the batch, then the second, and so on, each round confirmed before the next; a
document whose event failed waits for the sweep with the rest of its events.

Delivery is at-least-once: an event may be published twice (a replica stalls past its claim,
the lease moves while a sweep runs), and the idempotent consumer absorbs it. Nothing is lost:
an event leaves the outbox only once the broker has confirmed it.
"""

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from datetime import timedelta

import structlog
from asgi_correlation_id import correlation_id
from prometheus_client import Counter, Gauge, Histogram

from common import tracing
from common.clock import utc_now
from common.leases import Lease
from common.messaging import Broker, EventPublisher
from common.outbox import Outbox, Pending
from common.tasks import BackgroundTasks, next_batch

log = structlog.get_logger(__name__)

# Reported by the sweep lease's holder; every other replica reports 0, so the max over replicas
# is the outbox's (deploy/prometheus/rules.yml).
PENDING_EVENTS = Gauge("outbox_pending_events", "Documents holding events not yet published")
OLDEST_PENDING = Gauge(
    "outbox_oldest_pending_age_seconds", "How long the oldest event not yet published has waited"
)
PUBLISH_LATENCY = Histogram(
    "outbox_publish_latency_seconds",
    "From the event (made with its change) to the broker's confirm",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
PUBLISHED_EVENTS = Counter("outbox_published_events", "Events published and marked", ["path"])
LEFT_TO_SWEEP = Counter(
    "outbox_left_to_sweep_events", "Events the fast path left to the sweep: their claim ran out"
)

SWEEP_READ_BATCHES = 10


class OutboxRelay:
    def __init__(
        self,
        outbox: Outbox,
        lease: Lease,
        broker: Broker,
        publisher: EventPublisher,
        poll_interval: timedelta,
        claim_timeout: timedelta,
        batch_size: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbox = outbox
        self._lease = lease
        self._broker = broker
        self._publisher = publisher
        self._poll_interval = poll_interval.total_seconds()
        self.claim_timeout = claim_timeout
        self._batch_size = batch_size
        self._clock = clock
        # Bounded: past it, events simply wait for the sweep. Each document's events with the
        # clock time its claim runs out.
        self._queue: asyncio.Queue[tuple[float, list[Pending]]] = asyncio.Queue(
            maxsize=10 * batch_size
        )
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
                await self._lease.release()

    @property
    def claim(self) -> timedelta:
        """How long new events are left to this replica's fast path: not at all while the
        broker is away, so the sweep takes them as soon as the broker is back."""
        return self.claim_timeout if self._broker.is_connected else timedelta(0)

    def submit(self, events: list[Pending], claim: timedelta) -> None:
        """Publish one document's just-stored events soon; if this replica cannot, the sweep
        will. Call it right after the write, with the ``claim`` that write set: events it left
        unclaimed (the broker was away) are already the sweep's, and are not queued here."""
        if claim <= timedelta(0):
            return
        # A little short of the claim the write set (it was taken a moment earlier).
        until = self._clock() + 0.9 * claim.total_seconds()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait((until, events))

    async def _publish_loop(self) -> None:
        while True:
            await self.publish_submitted()

    async def publish_submitted(self) -> int:
        """Publish the next batch of what was submitted (waiting for some), but for documents
        whose claim ran out meanwhile: those are the sweep's. Returns how many were published."""
        batch = await next_batch(self._queue, self._batch_size)
        try:
            now = self._clock()
            if late := sum(len(events) for until, events in batch if until <= now):
                LEFT_TO_SWEEP.inc(late)
                log.warning("fast path fell behind its claims, left to the sweep", events=late)
            return await self.publish([e for until, e in batch if until > now], path="fast")
        except Exception:
            log.exception("outbox publish failed, the sweep will retry")
            return 0
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

        Due documents are read many batches at a time (the read's cost is what it returns, so
        fewer, larger reads cost less). The lease holder also reports the pending count.
        """
        lease_ttl = max(self.claim_timeout, timedelta(seconds=3 * self._poll_interval))
        if not await self._lease.hold(lease_ttl):
            PENDING_EVENTS.set(0)
            OLDEST_PENDING.set(0)
            return 0
        PENDING_EVENTS.set(await self._outbox.count_pending())
        oldest = await self._outbox.oldest_pending()
        OLDEST_PENDING.set(0 if oldest is None else (utc_now() - oldest).total_seconds())
        published, read_size = 0, SWEEP_READ_BATCHES * self._batch_size
        while self._broker.is_connected:
            due = await self._outbox.due(read_size)
            for start in range(0, len(due), self._batch_size):
                batch = due[start : start + self._batch_size]
                done = await self.publish(batch, path="sweep")
                published += done
                if done < sum(map(len, batch)) or not await self._lease.hold(lease_ttl):
                    return published
            if len(due) < read_size:
                break
        return published

    async def publish(self, documents: list[list[Pending]], path: str) -> int:
        """Publish the events of a batch of documents round by round (each document's first,
        then its second, ...), each round's confirms awaited together; mark what the broker
        took. A document whose event failed is due at once, and its later events wait for the
        sweep with it. Returns how many were published."""
        published, active = 0, [events for events in documents if events]
        for k in itertools.count():
            batch = [events[k] for events in active if k < len(events)]
            if not batch:
                break
            results = await asyncio.gather(*(self._publish_one(p) for p in batch))
            confirmed = [p for p, ok in zip(batch, results, strict=True) if ok]
            failed = [p for p, ok in zip(batch, results, strict=True) if not ok]
            await self._outbox.mark_published(confirmed)
            PUBLISHED_EVENTS.labels(path).inc(len(confirmed))
            published += len(confirmed)
            if failed:
                await self._outbox.release(failed)
                stopped = {p.doc_id for p in failed}
                active = [events for events in active if events[0].doc_id not in stopped]
        return published

    async def _publish_one(self, pending: Pending) -> bool:
        correlation_id.set(pending.correlation)  # this task's own context
        try:
            # In the trace of the request that made the event (stored with it in the outbox).
            with tracing.span(
                f"outbox publish {pending.event.ROUTING_KEY}",
                parent=pending.trace,
                event_id=pending.event.event_id,
            ):
                await self._publisher.publish(pending.event, pending.correlation)
        except Exception as exc:
            log.warning(
                "event not published, will retry", event_id=pending.event.event_id, error=repr(exc)
            )
            return False
        PUBLISH_LATENCY.observe((utc_now() - pending.event.occurred_at).total_seconds())
        log.info("event published", event_id=pending.event.event_id, **pending.event.subject())
        return True
