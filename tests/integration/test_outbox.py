"""The outbox against the real MongoDB (stand-in): what the relay reports of it, the pending
count and the age of the oldest event not yet published (outbox_oldest_pending_age_seconds,
which deploy/prometheus/rules.yml alerts on), and the fast path leaving to the sweep what
waited past its claim (with the real broker)."""

import json
from datetime import timedelta

import aio_pika
import pytest

from common.clock import utc_now
from common.components import running
from common.events import Event, PostCreated, PostSnapshot
from common.leases import Lease
from common.messaging import Broker, EventPublisher
from common.outbox import PUBLISHED, Outbox
from common.relay import LEFT_TO_SWEEP, OutboxRelay
from tests.support.polling import eventually

CLAIM = timedelta(seconds=10)


@pytest.fixture
async def outbox(db):
    box = Outbox(db["posts"])
    await box.create_indexes()
    return box, db["posts"]


def post_created(post_id: str, age: timedelta) -> PostCreated:
    made = utc_now() - age
    snapshot = PostSnapshot(
        id=post_id,
        author_id="author-1",
        author_email="a@example.com",
        preview="A question",
        has_code=False,
        created_at=made,
    )
    return PostCreated(post=snapshot, occurred_at=made)


async def store(posts, post_id: str, events: list[Event]) -> None:
    """A post written with its events, as post_service's store writes one."""
    made = min(event.occurred_at for event in events)
    await posts.insert_one({"_id": post_id, **Outbox.fields(events, None, CLAIM, made)})


async def test_nothing_pending_has_no_oldest_event(outbox):
    box, _posts = outbox
    assert await box.oldest_pending() is None
    assert await box.count_pending() == 0


async def test_the_oldest_pending_event_is_the_time_it_was_made(outbox):
    box, posts = outbox
    older, newer = (
        post_created("p1", timedelta(minutes=3)),
        post_created("p2", timedelta(seconds=5)),
    )
    await store(posts, "p1", [older])
    await store(posts, "p2", [newer])
    assert await box.count_pending() == 2
    assert await box.oldest_pending() == older.occurred_at

    # Published, it no longer counts: the next one waiting is the oldest.
    await box.mark_published(Outbox.written("p1", [older], None))
    assert await box.oldest_pending() == newer.occurred_at
    await box.mark_published(Outbox.written("p2", [newer], None))
    assert await box.oldest_pending() is None
    assert await box.count_pending() == 0


async def test_of_a_document_s_events_only_those_still_pending_count(outbox):
    box, posts = outbox
    first = post_created("p1", timedelta(minutes=2))
    second = post_created("p1", timedelta(seconds=30))
    await store(posts, "p1", [first, second])
    # the first is published (not the document's last), the second still waits
    (published, _waiting) = Outbox.written("p1", [first, second], None)
    await box.mark_published([published])
    assert await box.oldest_pending() == second.occurred_at


async def test_a_second_mark_of_an_event_changes_nothing(outbox):
    """Two relays may publish one event (a claim ran out mid-publish): both mark it."""
    box, posts = outbox
    event = post_created("p1", timedelta(seconds=1))
    await store(posts, "p1", [event])
    await box.mark_published(Outbox.written("p1", [event], None))
    first = await posts.find_one({"_id": "p1"})
    await box.mark_published(Outbox.written("p1", [event], None))
    assert await posts.find_one({"_id": "p1"}) == first
    assert first["outbox"]["pending"] == 0 and "due" not in first["outbox"]
    assert first["outbox"]["events"][event.event_id]["state"] == PUBLISHED
    assert await box.count_pending() == 0


async def test_an_event_added_while_the_first_is_published_stays_due(outbox):
    """The first event is marked after a second was added to its document: the first is done,
    the document stays due, and the sweep finds the second alone."""
    box, posts = outbox
    first, second = post_created("p1", timedelta(seconds=2)), post_created("p1", timedelta(0))
    await store(posts, "p1", [first])
    await posts.update_one({"_id": "p1"}, Outbox.adding([second], None))
    await box.mark_published(Outbox.written("p1", [first], None))
    stored = await posts.find_one({"_id": "p1"})
    assert stored["outbox"]["pending"] == 1
    assert stored["outbox"]["events"][first.event_id]["state"] == PUBLISHED
    due = await box.due(10, now=utc_now() + CLAIM)
    assert [[p.event.event_id for p in events] for events in due] == [[second.event_id]]


async def test_the_fast_path_leaves_what_waited_past_its_claim_to_the_sweep(outbox, rabbit, names):
    """After a burst the fast path can hold events whose claim ran out, which the sweep may
    have published already: it publishes only those still claimed. A write made while the
    broker was away claimed nothing: the fast path does not take it at all."""
    box, posts = outbox
    connection = await aio_pika.connect_robust(rabbit.url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        names.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    received = await channel.declare_queue(exclusive=True)
    await received.bind(exchange, routing_key="#")
    broker, now = Broker(rabbit.url, name="fast-path-test"), [0.0]
    relay = OutboxRelay(
        box,
        Lease(posts.database["leases"], "outbox-sweep:posts"),
        broker,
        EventPublisher(broker, names.exchange),
        poll_interval=timedelta(seconds=1),
        claim_timeout=CLAIM,
        clock=lambda: now[0],
    )  # never started: the test drives its fast path
    late, fresh, unclaimed = (post_created(p, timedelta(0)) for p in ("late", "fresh", "away"))
    async with running(broker):

        async def connected() -> bool:
            return broker.is_connected

        await eventually(connected)
        await store(posts, "late", [late])
        relay.submit(Outbox.written("late", [late], None), CLAIM)
        now[0] += CLAIM.total_seconds()  # it waited out its claim in the queue
        await store(posts, "away", [unclaimed])
        relay.submit(Outbox.written("away", [unclaimed], None), timedelta(0))
        await store(posts, "fresh", [fresh])
        relay.submit(Outbox.written("fresh", [fresh], None), CLAIM)
        left_before = LEFT_TO_SWEEP._value.get()

        assert await relay.publish_submitted() == 1
        assert LEFT_TO_SWEEP._value.get() - left_before == 1
    message = await received.get(timeout=10)
    assert json.loads(message.body)["event_id"] == fresh.event_id
    assert await received.get(fail=False, timeout=1) is None
    assert await box.oldest_pending() == late.occurred_at  # still pending: the sweep's now
    assert await box.count_pending() == 2  # and the unclaimed one, left to the sweep from the start
    await connection.close()
