"""RabbitMQ for every service: one robust connection, the event exchange, publishing and queues.

Topology (names come from settings, so tests and deployments can keep theirs apart):

    events exchange (topic, durable) --post.created.v1--> <queue> (quorum, delivery limit)
                      (one binding per event the queue's handlers take) | rejected, or
                                                            v  redelivered too often
                                  <queue>.dead-letter (fanout) --> <queue>.dlq (quorum)
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import stamina
import structlog
from aio_pika.abc import (
    AbstractExchange,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
    HeadersType,
)
from aio_pika.exceptions import AMQPError

from common.events import Event
from common.tasks import BackgroundTasks

CORRELATION_HEADER = "x-correlation-id"
# Seconds between reconnect attempts after the broker went away (aio-pika's default is 5).
RECONNECT_INTERVAL = 1.0

log = structlog.get_logger(__name__)


class BrokerUnavailable(ConnectionError):
    pass


class Broker:
    """A robust RabbitMQ connection that a service may start before the broker is up.

    ``start()`` returns at once and connects in the background, retrying with backoff; after the
    first connect aio-pika reconnects by itself and restores the channels, exchanges and queues
    still referenced (so callers keep their references).
    """

    def __init__(self, url: str, name: str) -> None:
        self._url = url
        self._name = name
        self._connection: AbstractRobustConnection | None = None
        self._tasks = BackgroundTasks(f"broker-{name}")
        self._first_connect = asyncio.Event()
        self._on_connected: list[Callable[[], None]] = []

    def on_connected(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after the first connect and after every reconnect."""
        self._on_connected.append(callback)

    def _connected(self, *_args: object) -> None:
        for callback in self._on_connected:
            callback()

    def start(self) -> None:
        self._tasks.start(self._connect(), "connect")

    async def _connect(self) -> None:
        async for attempt in stamina.retry_context(
            on=(OSError, AMQPError), attempts=None, timeout=None, wait_max=5.0
        ):
            with attempt:
                await aio_pika.connect_robust(
                    self._url,
                    client_properties={"connection_name": self._name},
                    reconnect_interval=RECONNECT_INTERVAL,
                    connection_class=self._keep,
                )
        log.info("broker connected", connection=self._name)
        assert self._connection is not None
        self._connection.reconnect_callbacks.add(self._connected)
        self._first_connect.set()
        self._connected()

    def _keep(self, *args: Any, **kwargs: Any) -> aio_pika.RobustConnection:
        """Make the connection and keep it before it connects: stopped mid-connect, ``stop``
        must close it, or aio-pika takes the cancelled attempt for a failed one and reconnects
        for ever in a task of its own."""
        self._connection = aio_pika.RobustConnection(*args, **kwargs)
        return self._connection

    async def connection(self) -> AbstractRobustConnection:
        """The connection, once it has connected the first time."""
        await self._first_connect.wait()
        assert self._connection is not None
        return self._connection

    @property
    def is_connected(self) -> bool:
        return self._connection is not None and self._connection.connected.is_set()

    async def ping(self) -> None:
        """Readiness check: raises while the broker is not connected."""
        if not self.is_connected:
            raise BrokerUnavailable("not connected to RabbitMQ")

    async def stop(self) -> None:
        await self._tasks.stop()
        if self._connection is not None:
            with contextlib.suppress(Exception):  # one that never connected may fail to close
                await self._connection.close()


async def subscribe_until_done(subscribe: Callable[[], Awaitable[None]]) -> None:
    """Run ``subscribe`` (declare a channel's queue and start consuming) until it succeeds: the
    broker may drop the connection while the topology is being declared."""
    async for attempt in stamina.retry_context(
        on=AMQPError, attempts=None, timeout=None, wait_max=5.0
    ):
        with attempt:
            await subscribe()


async def close_channel(channel: AbstractRobustChannel | None) -> None:
    if channel is not None and not channel.is_closed:
        await channel.close()


async def declare_events_exchange(channel: AbstractRobustChannel, name: str) -> AbstractExchange:
    return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)


class EventPublisher:
    """Publishes events as persistent messages and waits for the broker's confirm.

    ``mandatory`` with ``on_return_raises`` turns "no queue is bound for this event" into an
    error, so the outbox keeps the event and retries instead of the broker dropping it.

    ``durable=False`` is for notices that only matter to whoever listens right now (the push
    to browsers): transient messages, no confirm to wait for, and no error when nobody listens.
    """

    def __init__(
        self, broker: Broker, exchange_name: str, timeout: float = 5.0, *, durable: bool = True
    ) -> None:
        self._broker = broker
        self._exchange_name = exchange_name
        self._timeout = timeout
        self._durable = durable
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None

    async def _ensure_exchange(self) -> AbstractExchange:
        if self._exchange is None:
            connection = await self._broker.connection()
            self._channel = await connection.channel(
                publisher_confirms=self._durable, on_return_raises=self._durable
            )
            self._exchange = await declare_events_exchange(self._channel, self._exchange_name)
        return self._exchange

    async def publish(self, event: Event, correlation: str | None = None) -> None:
        """Publish and return once the broker has confirmed; raises on any failure."""
        if not self._broker.is_connected:
            raise BrokerUnavailable("not connected to RabbitMQ")
        exchange = await self._ensure_exchange()
        headers: HeadersType = {"x-event-type": event.event_type, "x-event-version": event.version}
        if correlation:
            headers[CORRELATION_HEADER] = correlation
        message = aio_pika.Message(
            body=event.model_dump_json().encode(),
            content_type="application/json",
            delivery_mode=(
                aio_pika.DeliveryMode.PERSISTENT
                if self._durable
                else aio_pika.DeliveryMode.NOT_PERSISTENT
            ),
            message_id=event.event_id,
            type=event.event_type,
            timestamp=event.occurred_at,
            headers=headers,
        )
        await exchange.publish(
            message, routing_key=event.ROUTING_KEY, mandatory=self._durable, timeout=self._timeout
        )


async def declare_consumer_queue(
    channel: AbstractRobustChannel,
    exchange_name: str,
    queue_name: str,
    routing_keys: list[str],
    delivery_limit: int,
) -> AbstractQueue:
    """A durable quorum queue bound to the events exchange, with its dead-letter queue.

    RabbitMQ counts redeliveries of quorum-queue messages; past ``delivery_limit`` it moves the
    message to the dead-letter queue, so a message that always fails cannot block the consumer.
    """
    exchange = await declare_events_exchange(channel, exchange_name)
    dead_letter = await channel.declare_exchange(
        f"{queue_name}.dead-letter", aio_pika.ExchangeType.FANOUT, durable=True
    )
    dlq = await channel.declare_queue(
        f"{queue_name}.dlq", durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dlq.bind(dead_letter)
    queue = await channel.declare_queue(
        queue_name,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": dead_letter.name,
        },
    )
    for routing_key in routing_keys:
        await queue.bind(exchange, routing_key=routing_key)
    return queue


def correlation_of(message: aio_pika.abc.AbstractIncomingMessage) -> str | None:
    value = (message.headers or {}).get(CORRELATION_HEADER)
    return value if isinstance(value, str) else None


async def declare_private_queue(
    channel: AbstractRobustChannel, exchange_name: str, queue_name: str, routing_keys: list[str]
) -> AbstractQueue:
    """A queue of this process alone: exclusive, deleted with its connection, never persisted.

    For notices every replica must see (each binds its own queue), whose loss while the
    process is away is harmless. The name is the caller's (not broker-generated), so aio-pika
    can declare it again after a reconnect.
    """
    exchange = await declare_events_exchange(channel, exchange_name)
    queue = await channel.declare_queue(queue_name, exclusive=True, auto_delete=True)
    for routing_key in routing_keys:
        await queue.bind(exchange, routing_key=routing_key)
    return queue
