"""The event path, seen from outside (a reader polling) and underneath (the bare broker).

``NotificationProbe`` polls a reader's notification list and notes when each post first shows
up in it. ``broker_round_trip`` and ``broker_throughput`` are the anchors: the same broker, the
same kind of queue (durable quorum, persistent messages, confirms, prefetch 16), no services.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import aio_pika
import httpx
from aio_pika import ExchangeType
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage
from pamqp.common import FieldTable

PAYLOAD = b"x" * 500  # about the size of a PostCreated event
QUORUM: FieldTable = {"x-queue-type": "quorum"}  # as the services' queue


class NotificationProbe:
    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str], every: float = 0.05):
        self.http, self.headers, self.every = http, headers, every
        self.first_seen: dict[str, float] = {}  # post id -> time.time() of the first poll with it
        self.polls = self.errors = 0
        self.started = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.poll()
            self.started.set()
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every)

    async def poll(self) -> None:
        first, cursor = not self.first_seen, None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            try:
                answer = await self.http.get(
                    "/api/notification", params=params, headers=self.headers
                )
            except httpx.HTTPError:
                self.errors += 1
                return
            seen_at = time.time()
            self.polls += 1
            if answer.status_code != 200:
                self.errors += 1
                return
            page = answer.json()
            items = [item["post_id"] for item in page["items"]]
            new = [post_id for post_id in items if post_id not in self.first_seen]
            self.first_seen.update(dict.fromkeys(new, seen_at))
            # A page of nothing but new items may have more new ones behind it.
            if first or len(new) < len(items) or not page["next_cursor"]:
                return
            cursor = page["next_cursor"]


@asynccontextmanager
async def _anchor_path(url: str) -> AsyncIterator[tuple[AbstractExchange, asyncio.Queue[float]]]:
    """A throwaway exchange and queue, a publisher and a consumer each on its own connection."""
    name = f"bench.anchor.{uuid.uuid4().hex[:8]}"
    publisher, consumer = await aio_pika.connect(url), await aio_pika.connect(url)
    try:
        channel = await publisher.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(name, ExchangeType.TOPIC, auto_delete=True)
        queue = await channel.declare_queue(name, durable=True, arguments=QUORUM)
        await queue.bind(exchange, "anchor")
        deliveries: asyncio.Queue[float] = asyncio.Queue()

        async def on_message(message: AbstractIncomingMessage) -> None:
            await message.ack()
            deliveries.put_nowait(time.perf_counter())

        reader = await consumer.channel()
        await reader.set_qos(prefetch_count=16)
        await (await reader.get_queue(name)).consume(on_message)
        yield exchange, deliveries
        await consumer.close()  # before the queue goes, so the broker cancels no consumer
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await consumer.close()
        await publisher.close()


def _message() -> aio_pika.Message:
    return aio_pika.Message(PAYLOAD, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)


async def broker_round_trip(url: str, count: int = 300) -> list[float]:
    """Seconds from publishing (awaiting the confirm) to the consumer's delivery, one at a time."""
    samples = []
    async with _anchor_path(url) as (exchange, deliveries):
        for _ in range(count):
            start = time.perf_counter()
            await exchange.publish(_message(), routing_key="anchor")
            samples.append(await deliveries.get() - start)
    return samples


async def broker_throughput(url: str, count: int) -> float:
    """Messages/s: ``count`` published one by one with confirms while a consumer acks them."""
    async with _anchor_path(url) as (exchange, deliveries):
        start = time.perf_counter()
        for _ in range(count):
            await exchange.publish(_message(), routing_key="anchor")
        for _ in range(count):
            last = await deliveries.get()
        return count / (last - start)
