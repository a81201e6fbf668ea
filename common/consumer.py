"""Consuming events: a service registers one handler per event contract, this does the rest.

Deliveries go into an inbox; one worker takes everything waiting (up to the prefetch) and hands
each event type's share to its handler as one batch, so a backlog costs a few writes per hundred
events while a lone event is handled at once. Per message:
- a routing key no handler takes, or a body that is not a valid event of that contract (this
  version): it can never succeed, so it is rejected and RabbitMQ dead-letters it;
- while MongoDB is unreachable the handler is retried in place (bounded), so an outage does not
  burn the messages' delivery attempts;
- any other failure is nacked back to the queue; past the queue's delivery limit RabbitMQ
  dead-letters the message.
Handlers must be idempotent (at-least-once delivery): a redelivered event changes nothing twice.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import stamina
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel
from asgi_correlation_id import correlation_id
from prometheus_client import Counter, Histogram
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from common import tracing
from common.clock import utc_now
from common.events import Event
from common.messaging import (
    Broker,
    close_channel,
    correlation_of,
    declare_consumer_queue,
    declare_private_queue,
    subscribe_until_done,
)
from common.tasks import BackgroundTasks, next_batch

log = structlog.get_logger(__name__)

# Labelled by the consumer's name: one service may run several (notification_service stores
# notifications from one and pushes them from another).
CONSUMER_LAG = Histogram(
    "consumer_lag_seconds",
    "From the event's occurrence to its handling",
    ["consumer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
HANDLING = Histogram(
    "consumer_handling_seconds",
    "Time to handle one batch of events",
    ["consumer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
BATCH_SIZE = Histogram(
    "consumer_batch_size",
    "Messages handled together",
    ["consumer"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250),
)
CONSUMED_EVENTS = Counter(
    "consumer_events", "Messages handled, by outcome", ["consumer", "outcome"]
)


@dataclass(frozen=True)
class Handler:
    """What a service does with one event contract's events, a batch at a time.

    ``handle`` returns the ids of the events that changed something now; the others were
    already applied (a redelivery). ``applied`` and ``duplicate`` name the two in the logs.
    """

    handle: Callable[[list[Any]], Awaitable[set[str]]]
    applied: str = "event applied"
    duplicate: str = "event already applied"


class EventConsumer:
    """Consumes one queue with a handler per event contract.

    The queue is the service's durable work queue (replicas compete for its messages, and
    rejected ones are dead-lettered), or with ``private=True`` one of this process alone
    (exclusive, deleted with the connection): for notices that every replica must see, whose
    loss while the process is away is harmless; a rejected one is dropped.
    """

    def __init__(
        self,
        broker: Broker,
        handlers: Mapping[type[Event], Handler],
        *,
        name: str,
        exchange: str,
        queue: str,
        prefetch: int,
        delivery_limit: int = 5,
        private: bool = False,
        db_retry_timeout: float = 60.0,
    ) -> None:
        self._broker = broker
        self._handlers = {contract.ROUTING_KEY: (contract, h) for contract, h in handlers.items()}
        self._name = name
        self._exchange = exchange
        self._queue_name = queue
        self._delivery_limit = delivery_limit
        self._private = private
        self._prefetch = prefetch
        self._db_retry_timeout = db_retry_timeout
        self._inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        # Kept referenced so aio-pika restores them (and the consumer) after a reconnect.
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tasks = BackgroundTasks(f"consumer-{queue}")

    def start(self) -> None:
        self._tasks.start(self._subscribe(), "subscribe")
        self._tasks.start(self._work(), "work")

    async def stop(self) -> None:
        await self._tasks.stop()
        await close_channel(self._channel)

    async def _subscribe(self) -> None:
        await subscribe_until_done(self._declare_and_consume)

    async def _declare_and_consume(self) -> None:
        connection = await self._broker.connection()
        self._channel = await connection.channel()
        await self._channel.set_qos(prefetch_count=self._prefetch)
        if self._private:
            self._queue = await declare_private_queue(
                self._channel, self._exchange, self._queue_name, list(self._handlers)
            )
        else:
            self._queue = await declare_consumer_queue(
                self._channel,
                self._exchange,
                self._queue_name,
                list(self._handlers),
                self._delivery_limit,
            )
        await self._queue.consume(self.on_message)
        log.info("consuming", queue=self._queue_name, events=list(self._handlers))

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        self._inbox.put_nowait(message)

    async def _work(self) -> None:
        while True:
            batch = await next_batch(self._inbox, self._prefetch)
            try:
                await self.handle(batch)
            except Exception:
                log.exception("batch handling failed")

    async def handle(self, messages: list[AbstractIncomingMessage]) -> None:
        """Handle a batch of messages, each event type's share in one handler call, then settle
        each message."""
        started = time.perf_counter()
        BATCH_SIZE.labels(self._name).observe(len(messages))
        by_key: dict[str, list[tuple[AbstractIncomingMessage, Event]]] = {}
        for message in messages:
            parsed = self._parse(message)
            if parsed is None:
                CONSUMED_EVENTS.labels(self._name, "rejected").inc()
                await message.reject(requeue=False)
            else:
                by_key.setdefault(message.routing_key or "", []).append((message, parsed))
        for key, received in by_key.items():
            await self._handle_events(self._handlers[key][1], received)
        HANDLING.labels(self._name).observe(time.perf_counter() - started)

    def _parse(self, message: AbstractIncomingMessage) -> Event | None:
        contract, _handler = self._handlers.get(message.routing_key or "", (None, None))
        with _correlated(message):
            if contract is None:
                log.error("no handler, rejected", routing_key=message.routing_key)
                return None
            try:
                return contract.model_validate_json(message.body)
            except ValidationError as exc:
                log.error(
                    "poison message rejected",
                    message_id=message.message_id,
                    errors=exc.error_count(),
                )
                return None

    async def _handle_events(
        self, handler: Handler, received: list[tuple[AbstractIncomingMessage, Event]]
    ) -> None:
        events = [event for _, event in received]
        traces = {event.event_id: tracing.received(message.headers) for message, event in received}
        with tracing.handling(f"{self._name} process {events[0].ROUTING_KEY}", traces):
            try:
                async for attempt in stamina.retry_context(
                    on=ConnectionFailure, attempts=None, timeout=self._db_retry_timeout
                ):
                    with attempt:
                        applied = await handler.handle(events)
            except Exception:
                log.exception("event handling failed, returned to the queue", events=len(events))
                CONSUMED_EVENTS.labels(self._name, "requeued").inc(len(events))
                for message, _ in received:
                    await message.nack(requeue=True)
                return
            handled = utc_now()
            for message, event in received:
                await message.ack()
                new = event.event_id in applied
                CONSUMED_EVENTS.labels(self._name, "applied" if new else "duplicate").inc()
                lag = (handled - event.occurred_at).total_seconds()
                CONSUMER_LAG.labels(self._name).observe(lag)
                with _correlated(message), tracing.continued(tracing.of_event(event.event_id)):
                    log.info(
                        handler.applied if new else handler.duplicate,
                        event_id=event.event_id,
                        **event.subject(),
                    )


@contextlib.contextmanager
def _correlated(message: AbstractIncomingMessage) -> Iterator[None]:
    """Log lines inside carry the message's correlation id (the request that made the event)."""
    token = correlation_id.set(correlation_of(message) or message.message_id)
    try:
        yield
    finally:
        correlation_id.reset(token)
