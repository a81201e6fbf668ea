"""The PostCreated consumer: notifications stored in batches, each message acked after the write.

Deliveries go into an inbox; one worker takes everything waiting (up to the prefetch) and stores
it with one bulk insert, so a backlog costs a few writes per hundred events while a lone event is
handled at once. Per message:
- not a valid PostCreated (this version): it can never succeed, so it is rejected and RabbitMQ
  dead-letters it; the consumer goes on with the next;
- while MongoDB is unreachable the worker waits and retries in place (bounded), so an outage
  does not burn the messages' delivery attempts;
- any other failure is nacked back to the queue; past the queue's delivery limit RabbitMQ
  dead-letters the message.
Handling is idempotent (one notification per post), so redelivery creates nothing twice.
"""

import asyncio
import contextlib
import time
from collections.abc import Iterator

import stamina
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel
from aio_pika.exceptions import AMQPError
from asgi_correlation_id import correlation_id
from prometheus_client import Counter, Histogram
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from common.clock import utc_now
from common.events import POST_CREATED_V1, PostCreated
from common.messaging import Broker, correlation_of, declare_consumer_queue
from notification_service.store import NotificationStore

log = structlog.get_logger(__name__)

CONSUMER_LAG = Histogram(
    "consumer_lag_seconds",
    "From the event's occurrence to its notification being stored",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
HANDLING = Histogram(
    "consumer_handling_seconds",
    "Time to store one batch of notifications",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
BATCH_SIZE = Histogram(
    "consumer_batch_size", "Messages handled together", buckets=(1, 2, 5, 10, 25, 50, 100, 250)
)
EVENTS = Counter("consumer_events", "Messages handled, by outcome", ["outcome"])


class PostCreatedConsumer:
    def __init__(
        self,
        broker: Broker,
        store: NotificationStore,
        *,
        exchange: str,
        queue: str,
        delivery_limit: int,
        prefetch: int,
        db_retry_timeout: float = 60.0,
    ) -> None:
        self._broker = broker
        self._store = store
        self._exchange = exchange
        self._queue_name = queue
        self._delivery_limit = delivery_limit
        self._prefetch = prefetch
        self._db_retry_timeout = db_retry_timeout
        self._inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        # Kept referenced so aio-pika restores them (and the consumer) after a reconnect.
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._subscribe(), name="post-created-subscribe"),
            asyncio.create_task(self._work(), name="post-created-worker"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    async def _subscribe(self) -> None:
        # Retried: the broker may drop the connection while the topology is being declared.
        async for attempt in stamina.retry_context(
            on=AMQPError, attempts=None, timeout=None, wait_max=5.0
        ):
            with attempt:
                await self._declare_and_consume()

    async def _declare_and_consume(self) -> None:
        connection = await self._broker.connection()
        self._channel = await connection.channel()
        await self._channel.set_qos(prefetch_count=self._prefetch)
        self._queue = await declare_consumer_queue(
            self._channel,
            self._exchange,
            self._queue_name,
            POST_CREATED_V1,
            self._delivery_limit,
        )
        await self._queue.consume(self.on_message)
        log.info("consuming", queue=self._queue_name)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        self._inbox.put_nowait(message)

    async def _work(self) -> None:
        while True:
            batch = [await self._inbox.get()]
            while not self._inbox.empty() and len(batch) < self._prefetch:
                batch.append(self._inbox.get_nowait())
            try:
                await self.handle(batch)
            except Exception:
                log.exception("batch handling failed")

    async def handle(self, messages: list[AbstractIncomingMessage]) -> None:
        """Store the notifications of a batch of messages, then settle each message."""
        started = time.perf_counter()
        BATCH_SIZE.observe(len(messages))
        events: list[tuple[AbstractIncomingMessage, PostCreated]] = []
        for message in messages:
            try:
                events.append((message, PostCreated.model_validate_json(message.body)))
            except ValidationError as exc:
                with _correlated(message):
                    log.error(
                        "poison message dead-lettered",
                        message_id=message.message_id,
                        errors=exc.error_count(),
                    )
                EVENTS.labels("dead_lettered").inc()
                await message.reject(requeue=False)
        if not events:
            return
        try:
            async for attempt in stamina.retry_context(
                on=ConnectionFailure, attempts=None, timeout=self._db_retry_timeout
            ):
                with attempt:
                    added = await self._store.add([event.post for _, event in events])
        except Exception:
            log.exception("event handling failed, returned to the queue", events=len(events))
            EVENTS.labels("requeued").inc(len(events))
            for message, _ in events:
                await message.nack(requeue=True)
            return
        stored = utc_now()
        for message, event in events:
            await message.ack()
            created = event.post.id in added
            EVENTS.labels("stored" if created else "duplicate").inc()
            CONSUMER_LAG.observe((stored - event.occurred_at).total_seconds())
            with _correlated(message):
                log.info(
                    "notification stored" if created else "notification already stored",
                    event_id=event.event_id,
                    post_id=event.post.id,
                )
        HANDLING.observe(time.perf_counter() - started)


@contextlib.contextmanager
def _correlated(message: AbstractIncomingMessage) -> Iterator[None]:
    """Log lines inside carry the message's correlation id (the request that made the post)."""
    token = correlation_id.set(correlation_of(message) or message.message_id)
    try:
        yield
    finally:
        correlation_id.reset(token)
