"""The outbox of common/ as any service would use it: two different events stored on one
document while the broker is down are published after it returns, in order, each once."""

import json
import uuid
from datetime import timedelta
from typing import ClassVar, Literal

import aio_pika
from pymongo import AsyncMongoClient

from common.clock import utc_now
from common.components import running
from common.events import Event
from common.leases import Lease
from common.messaging import Broker, EventPublisher
from common.outbox import DUE, PUBLISHED, Outbox
from common.relay import OutboxRelay
from tests.support.polling import eventually


class ItemCreated(Event):
    ROUTING_KEY: ClassVar[str] = "test.outbox.item-created.v1"
    event_type: Literal["ItemCreated"] = "ItemCreated"
    version: Literal[1] = 1
    name: str


class ItemRenamed(Event):
    ROUTING_KEY: ClassVar[str] = "test.outbox.item-renamed.v1"
    event_type: Literal["ItemRenamed"] = "ItemRenamed"
    version: Literal[1] = 1
    name: str


async def test_two_events_of_one_document_wait_out_an_outage_and_go_in_order_once(
    broker, mongo_url
):
    exchange_name, suffix = f"test.outbox.{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]
    # A durable queue of the test's, bound before the outage: it keeps whatever is published.
    connection = await aio_pika.connect_robust(broker.url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(f"test.outbox.{suffix}", durable=True)
    await queue.bind(exchange, routing_key="test.outbox.#")
    await connection.close()

    mongo = AsyncMongoClient[dict](mongo_url, tz_aware=True)
    db = mongo[f"outbox_{suffix}"]
    items = db["items"]
    outbox = Outbox(items)
    await outbox.create_indexes()

    broker.stop()
    client = Broker(broker.url, name="outbox-test")
    relay = OutboxRelay(
        outbox,
        Lease(db["leases"], "outbox-sweep:items"),
        client,
        EventPublisher(client, exchange_name),
        poll_interval=timedelta(seconds=0.2),
        claim_timeout=timedelta(seconds=1),
    )
    async with running(client), running(relay):
        created, renamed = ItemCreated(name="first"), ItemRenamed(name="second")
        item_id = uuid.uuid4().hex
        # One write each: the change and the event announcing it.
        fields = outbox.fields([created], None, relay.claim, utc_now())
        await items.insert_one({"_id": item_id, "name": "first", **fields})
        adding = outbox.adding([renamed], None)
        await items.update_one(
            {"_id": item_id}, {**adding, "$set": {"name": "second", **adding["$set"]}}
        )
        stored = await items.find_one({"_id": item_id})
        assert stored is not None and stored["outbox"]["pending"] == 2

        broker.start()

        async def published() -> bool:
            return await outbox.count_pending() == 0

        await eventually(published, timeout=60)

    connection = await aio_pika.connect_robust(broker.url)
    channel = await connection.channel()
    queue = await channel.declare_queue(f"test.outbox.{suffix}", durable=True)
    received = []
    while (message := await queue.get(fail=False, timeout=5)) is not None:
        received.append(json.loads(message.body)["event_id"])
        await message.ack()
    await queue.delete()
    await connection.close()
    assert received == [created.event_id, renamed.event_id]  # in order, each once

    stored = await items.find_one({"_id": item_id})
    assert stored is not None and DUE.split(".")[1] not in stored["outbox"]
    assert stored["outbox"]["pending"] == 0
    assert [e["state"] for e in stored["outbox"]["events"].values()] == [PUBLISHED, PUBLISHED]
    await mongo.drop_database(db.name)
    await mongo.close()
