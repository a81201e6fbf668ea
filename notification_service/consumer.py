"""The PostCreated consumer: one stored notification per event, acknowledged after the write.

- A message that is not a valid PostCreated can never succeed: it is rejected at once and
  RabbitMQ dead-letters it, and the consumer goes on with the next.
- While MongoDB is unreachable the handler waits and retries in place (bounded), so an outage
  does not burn the message's delivery attempts.
- Any other failure is nacked back to the queue; past the queue's delivery limit RabbitMQ
  dead-letters the message.
Handling is idempotent, so redelivery (after a crash before the ack) creates nothing twice.
"""

import asyncio

import stamina
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel
from aio_pika.exceptions import AMQPError
from asgi_correlation_id import correlation_id
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from common.events import POST_CREATED_V1, PostCreated
from common.messaging import Broker, correlation_of, declare_consumer_queue
from notification_service.store import NotificationStore

log = structlog.get_logger(__name__)


async def handle_post_created(store: NotificationStore, event: PostCreated) -> bool:
    """Record the post and make sure its notification exists; True when created now."""
    await store.record_post(event.post)
    _notification, created = await store.ensure_notification(event.post)
    return created


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
        # Kept referenced so aio-pika restores them (and the consumer) after a reconnect.
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractQueue | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._subscribe(), name="post-created-consumer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
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
        token = correlation_id.set(correlation_of(message) or message.message_id)
        try:
            await self._process(message)
        finally:
            correlation_id.reset(token)

    async def _process(self, message: AbstractIncomingMessage) -> None:
        try:
            event = PostCreated.model_validate_json(message.body)
        except ValidationError as exc:
            log.error(
                "poison message dead-lettered",
                message_id=message.message_id,
                errors=exc.error_count(),
            )
            await message.reject(requeue=False)
            return
        try:
            async for attempt in stamina.retry_context(
                on=ConnectionFailure, attempts=None, timeout=self._db_retry_timeout
            ):
                with attempt:
                    created = await handle_post_created(self._store, event)
        except Exception:
            log.exception(
                "event handling failed, returned to the queue",
                event_id=event.event_id,
                delivery_count=(message.headers or {}).get("x-delivery-count", 0),
            )
            await message.nack(requeue=True)
            return
        await message.ack()
        log.info(
            "notification stored" if created else "notification already stored",
            event_id=event.event_id,
            post_id=event.post.id,
        )
