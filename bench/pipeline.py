"""The capacity anchor: a post's work done by the bare clients, no HTTP and no framework.

Per post, as the services do it: the snippet put to the object store (the minio SDK in a worker
thread), the post inserted into MongoDB (pymongo's AsyncMongoClient, the services' write
concern), the event published with a confirm (aio-pika, persistent, to a quorum queue), consumed
and acknowledged after the notification is inserted. ``concurrency`` posts are in flight at a
time; the rate is posts whose notification is stored per second.
"""

import asyncio
import contextlib
import io
import itertools
import time
import uuid
from typing import Any

import aio_pika
from bson import ObjectId
from minio import Minio
from pymongo import AsyncMongoClient

from bench import post_body
from bench.probe import QUORUM
from devstack.stack import S3


async def pipeline_rate(
    mongo_url: str, s3: S3, rabbit_url: str, *, seconds: float = 15, concurrency: int = 64
) -> float:
    """Posts/s through the bare per-post work for ``seconds``, ``concurrency`` in flight."""
    name = f"bench_anchor_{uuid.uuid4().hex[:8]}"
    # The services' write concern (common/mongo.py's connect_mongo).
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, w="majority", journal=True
    )
    db = client[name]
    s3_client = Minio(s3.endpoint, s3.access_key, s3.secret_key, secure=False)
    bucket = name.replace("_", "-")
    await asyncio.to_thread(s3_client.make_bucket, bucket)
    publisher, consumer = await aio_pika.connect(rabbit_url), await aio_pika.connect(rabbit_url)
    stored: list[float] = []
    all_stored = asyncio.Event()
    posted: int | None = None  # known once the authors stop
    try:
        channel = await publisher.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            name, aio_pika.ExchangeType.TOPIC, auto_delete=True
        )
        queue = await channel.declare_queue(name, durable=True, arguments=QUORUM)
        await queue.bind(exchange, "post.created")

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await db.notifications.insert_one(
                {"post_id": message.body.decode(), "created_at": time.time()}
            )
            await message.ack()
            stored.append(time.perf_counter())
            if posted is not None and len(stored) >= posted:
                all_stored.set()

        reader = await consumer.channel()
        await reader.set_qos(prefetch_count=64)
        await (await reader.get_queue(name)).consume(on_message)

        async def author(deadline: float, numbers: "itertools.count[int]") -> int:
            posted = 0
            while time.perf_counter() < deadline:
                n, post_id = next(numbers), ObjectId()
                body = post_body(n, who="anchor")
                code = body["code"].encode()
                key = f"posts/{post_id}.txt"
                await asyncio.to_thread(
                    s3_client.put_object, bucket, key, io.BytesIO(code), len(code)
                )
                await db.posts.insert_one({"_id": post_id, **body, "code_key": key})
                message = aio_pika.Message(
                    str(post_id).encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT
                )
                await exchange.publish(message, routing_key="post.created")
                posted += 1
            return posted

        start = time.perf_counter()
        numbers = itertools.count()
        posted = sum(
            await asyncio.gather(*(author(start + seconds, numbers) for _ in range(concurrency)))
        )
        if len(stored) < posted:
            await all_stored.wait()
        return posted / (stored[-1] - start)
    finally:
        await consumer.close()
        with contextlib.suppress(Exception):
            await (await publisher.channel()).queue_delete(name)
        await publisher.close()
        await client.drop_database(name)
        await client.close()
