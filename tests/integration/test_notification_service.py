import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue
from bson import ObjectId

from common.clock import utc_now
from common.components import running
from common.events import NotificationsCreated, NotificationSnapshot, PostCreated, PostSnapshot
from common.messaging import Broker
from notification_service.app import create_app
from notification_service.push import NotificationAnnouncer
from tests.integration.conftest import serve_in_process
from tests.support.polling import eventually


def post_created(
    author: str = "alice", created_at: datetime | None = None, text: str = "A question"
) -> PostCreated:
    return PostCreated(
        post=PostSnapshot(
            id=str(ObjectId()),
            author_id=author,
            author_email=f"{author}@example.com",
            preview=text,
            has_code=False,
            language=None,
            created_at=created_at or utc_now(),
        )
    )


@pytest.fixture
async def publish_raw(rabbit, names):
    connection = await aio_pika.connect_robust(rabbit.url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        names.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )

    async def publish(body: bytes) -> None:
        await exchange.publish(
            aio_pika.Message(body, delivery_mode=2), routing_key=PostCreated.ROUTING_KEY
        )

    yield publish
    await connection.close()


async def queue_counts(url: str, queue: str) -> tuple[int, int]:
    """(messages ready, consumers) of a queue, by a passive declare; (0, 0) if it is not there."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        result = declared.declaration_result
        assert result.message_count is not None and result.consumer_count is not None
        return result.message_count, result.consumer_count
    except aio_pika.exceptions.ChannelClosed:
        return 0, 0
    finally:
        await connection.close()


async def consuming(notifications, rabbit, names, consumers: int = 1) -> None:
    """Wait until the app's consumers are subscribed, so events published next reach them."""

    async def subscribed():
        return (await queue_counts(rabbit.url, names.queue))[1] == consumers

    await eventually(subscribed)


async def items(client, headers, query: str = "") -> list[dict]:
    answer = await client.get(f"/api/notification{query}", headers=headers)
    assert answer.status_code == 200
    return answer.json()["items"]


async def test_post_created_becomes_one_notification_for_other_users(
    notifications, rabbit, names, publish, bearer
):
    await consuming(notifications, rabbit, names)
    event = post_created("alice", text="How do I exit vim?")
    await publish(event, "corr-1")

    found = await eventually(lambda: items(notifications, bearer("bob")))
    assert found == [
        {
            "id": found[0]["id"],
            "post_id": event.post.id,
            "author_email": "alice@example.com",
            "preview": "How do I exit vim?",
            "read": False,
            "created_at": event.post.created_at.isoformat().replace("+00:00", "Z"),
        }
    ]
    assert await items(notifications, bearer("alice")) == []  # not told of one's own post


async def test_the_same_event_delivered_twice_makes_one_notification(
    notifications, rabbit, names, publish, bearer
):
    await consuming(notifications, rabbit, names)
    event = post_created()
    await publish(event)
    await publish(event)
    marker = post_created(text="published after the duplicate")
    await publish(marker)

    found = await eventually(lambda: _has(notifications, bearer("bob"), marker.post.id))
    assert [n["post_id"] for n in found].count(event.post.id) == 1
    assert len(found) == 2


@contextlib.asynccontextmanager
async def announcements(url: str, exchange_name: str) -> AsyncIterator[AbstractQueue]:
    """A queue of the test's own that takes every NotificationsCreated published from now on."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key=NotificationsCreated.ROUTING_KEY)
        yield queue
    finally:
        await connection.close()


async def test_each_notification_is_announced_for_the_replicas_to_push(
    notifications, rabbit, names, publish, bearer
):
    """Announced when stored, and again when its event comes again: the replica that stored it
    may have died before announcing it (the replicas' hubs drop a repeat)."""
    async with announcements(rabbit.url, names.exchange) as announced:
        await consuming(notifications, rabbit, names)
        received: list[NotificationsCreated] = []

        async def announced_for(post_id: str) -> bool:
            message = await announced.get(no_ack=True, fail=False, timeout=5)
            if message is not None:
                received.append(NotificationsCreated.model_validate_json(message.body))
            return bool(received) and received[-1].notifications[-1].post_id == post_id

        event = post_created("alice", text="How do I exit vim?")
        await publish(event)
        await eventually(lambda: announced_for(event.post.id))
        await publish(event)  # a redelivery: nothing is stored, the same one is announced
        await eventually(lambda: announced_for(event.post.id))
        marker = post_created("carol")
        await publish(marker)
        await eventually(lambda: announced_for(marker.post.id))

    (first,), (again,), (last,) = (announcement.notifications for announcement in received)
    assert [first.post_id, last.post_id] == [event.post.id, marker.post.id]
    assert again == first
    assert (first.author_id, first.preview) == ("alice", "How do I exit vim?")
    stored = await items(notifications, bearer("bob"))
    assert {n["id"] for n in stored} == {first.id, last.id}
    assert last.seq > first.seq


async def test_a_batch_of_notifications_is_announced_in_one_message(rabbit, names):
    """Per notification, the broker's client cost more than the rest of a batch's work."""
    batch = [
        NotificationSnapshot(
            id=str(ObjectId()),
            seq=seq,
            post_id=str(ObjectId()),
            author_id="alice",
            author_email="alice@example.com",
            preview=f"question {seq}",
            created_at=utc_now(),
        )
        for seq in range(1, 6)
    ]
    broker = Broker(rabbit.url, name="announce-test")
    async with announcements(rabbit.url, names.exchange) as announced:
        async with running(broker):
            await broker.connection()
            await NotificationAnnouncer(broker, names.exchange).announce(batch, {})
        # The publish was confirmed before announce() returned: the message is in the queue.
        message = await announced.get(no_ack=True, timeout=5)
        assert NotificationsCreated.model_validate_json(message.body).notifications == batch
        assert await announced.get(no_ack=True, fail=False, timeout=5) is None


async def _has(client, headers, post_id):
    found = await items(client, headers)
    return found if any(n["post_id"] == post_id for n in found) else None


async def test_poison_message_is_dead_lettered_and_consumption_goes_on(
    notifications, rabbit, names, publish, publish_raw, bearer
):
    await consuming(notifications, rabbit, names)
    await publish_raw(b"this is not an event")
    await publish_raw(b'{"event_type": "PostCreated", "version": 1, "post": {"id": 1}}')
    unknown_version = post_created().model_dump(mode="json") | {"version": 2}
    await publish_raw(json.dumps(unknown_version).encode())
    good = post_created()
    await publish(good)

    await eventually(lambda: _has(notifications, bearer("bob"), good.post.id))

    async def dead_lettered():
        return (await queue_counts(rabbit.url, f"{names.queue}.dlq"))[0] == 3

    await eventually(dead_lettered)


async def test_competing_consumers_share_the_queue_and_store_each_event_once(
    notification_settings, rabbit, names, publish, bearer
):
    async with (
        serve_in_process(create_app(notification_settings)) as first,
        serve_in_process(create_app(notification_settings)) as second,
    ):
        await consuming(first, rabbit, names, consumers=2)
        events = [post_created(text=f"post {i}") for i in range(30)]
        for event in events:
            await publish(event)

        async def all_stored():
            found = await items(first, bearer("bob"), "?limit=100")
            return found if len(found) >= len(events) else None

        found = await eventually(all_stored, timeout=20)
        assert sorted(n["post_id"] for n in found) == sorted(e.post.id for e in events)
        assert await items(second, bearer("bob"), "?limit=100") == found


async def test_read_state_is_per_user(notifications, rabbit, names, publish, bearer):
    await consuming(notifications, rabbit, names)
    event = post_created("alice")
    await publish(event)
    [note] = await eventually(lambda: items(notifications, bearer("bob")))

    count = await notifications.get("/api/notification/unread-count", headers=bearer("bob"))
    assert count.json() == {"count": 1}
    marked = await notifications.post(f"/api/notification/{note['id']}/read", headers=bearer("bob"))
    assert marked.status_code == 204
    again = await notifications.post(f"/api/notification/{note['id']}/read", headers=bearer("bob"))
    assert again.status_code == 204

    assert (await items(notifications, bearer("bob")))[0]["read"] is True
    assert (await items(notifications, bearer("carol")))[0]["read"] is False
    for user, unread in [("bob", 0), ("carol", 1), ("alice", 0)]:
        answer = await notifications.get("/api/notification/unread-count", headers=bearer(user))
        assert answer.json() == {"count": unread}, user


async def test_marking_unknown_or_own_notifications_is_404(
    notifications, rabbit, names, publish, bearer
):
    await consuming(notifications, rabbit, names)
    await publish(post_created("alice"))
    [note] = await eventually(lambda: items(notifications, bearer("bob")))
    for user, note_id in [("bob", str(ObjectId())), ("bob", "bogus"), ("alice", note["id"])]:
        answer = await notifications.post(f"/api/notification/{note_id}/read", headers=bearer(user))
        assert answer.status_code == 404, (user, note_id)


async def test_create_notification_for_a_known_post_is_idempotent(
    notifications, rabbit, names, publish, bearer
):
    await consuming(notifications, rabbit, names)
    event = post_created("alice")
    await publish(event)
    [note] = await eventually(lambda: items(notifications, bearer("bob")))

    again = await notifications.post(
        "/api/notification", headers=bearer("bob"), json={"post_id": event.post.id}
    )
    assert again.status_code == 200
    assert again.json()["id"] == note["id"]

    # The cleaner's deletion is final: the record of the post goes with its notification.
    await notifications.app.state.notifications.delete_older_than(utc_now() + timedelta(1), 10)
    gone = await notifications.post(
        "/api/notification", headers=bearer("bob"), json={"post_id": event.post.id}
    )
    assert gone.status_code == 404

    unknown = await notifications.post(
        "/api/notification", headers=bearer("bob"), json={"post_id": str(ObjectId())}
    )
    assert unknown.status_code == 404
    for body in [{}, {"post_id": ""}, {"post_id": {"$gt": ""}}]:
        answer = await notifications.post("/api/notification", headers=bearer("bob"), json=body)
        assert answer.status_code == 422


async def test_notifications_page_newest_first(notifications, rabbit, names, publish, bearer):
    await consuming(notifications, rabbit, names)
    start = utc_now() - timedelta(minutes=10)
    events = [post_created(created_at=start + timedelta(seconds=i), text=f"n{i}") for i in range(5)]
    for event in events:
        await publish(event)
    await eventually(lambda: _count(notifications, bearer("bob"), 5))

    first = (await notifications.get("/api/notification?limit=3", headers=bearer("bob"))).json()
    rest = (
        await notifications.get(
            f"/api/notification?limit=3&cursor={first['next_cursor']}", headers=bearer("bob")
        )
    ).json()
    assert [n["preview"] for n in first["items"] + rest["items"]] == ["n4", "n3", "n2", "n1", "n0"]
    assert rest["next_cursor"] is None
    empty = await notifications.get("/api/notification?limit=3&cursor=", headers=bearer("bob"))
    assert empty.json() == first  # an empty cursor is the first page
    bad = await notifications.get("/api/notification?cursor=%2A", headers=bearer("bob"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "cursor"]


async def _count(client, headers, n):
    return len(await items(client, headers, "?limit=100")) >= n


async def test_cleaner_deletes_old_notifications_and_their_read_state(
    notifications, rabbit, names, publish, bearer
):
    await consuming(notifications, rabbit, names)
    old = post_created(created_at=utc_now() - timedelta(minutes=5), text="old")
    new = post_created(text="new")
    await publish(old)
    await publish(new)
    found = await eventually(lambda: _count(notifications, bearer("bob"), 2))
    assert found
    for note in await items(notifications, bearer("bob")):
        await notifications.post(f"/api/notification/{note['id']}/read", headers=bearer("bob"))

    store = notifications.app.state.notifications
    cutoff = utc_now() - timedelta(minutes=1)
    results = await asyncio.gather(
        store.delete_older_than(cutoff, batch_size=1), store.delete_older_than(cutoff, batch_size=1)
    )
    assert sum(n for n, _ in results) == 1  # two runs at once delete it once, harmlessly
    assert sum(r for _, r in results) == 1
    assert [n["preview"] for n in await items(notifications, bearer("bob"))] == ["new"]
    answer = await notifications.get("/api/notification/unread-count", headers=bearer("bob"))
    assert answer.json() == {"count": 0}


async def test_every_route_needs_a_valid_token(notifications):
    for method, path in [
        ("GET", "/api/notification"),
        ("POST", "/api/notification"),
        ("GET", "/api/notification/unread-count"),
        ("POST", f"/api/notification/{ObjectId()}/read"),
    ]:
        answer = await notifications.request(method, path, json={"post_id": "x"})
        assert answer.status_code == 401, path


def test_created_at_of_events_is_timezone_aware():
    assert post_created().post.created_at.tzinfo is UTC


async def test_no_notification_for_a_post_older_than_the_retention(
    notifications, notification_settings, rabbit, names, publish, bearer
):
    """A late event (a redelivery, a long outage) cannot bring back what the cleaner deleted."""
    await consuming(notifications, rabbit, names)
    expired = utc_now() - notification_settings.notification_max_age - timedelta(seconds=1)
    late = post_created(created_at=expired, text="late")
    fresh = post_created(text="fresh")
    await publish(late)
    await publish(fresh)
    await eventually(lambda: _has(notifications, bearer("bob"), fresh.post.id))
    assert late.post.id not in [n["post_id"] for n in await items(notifications, bearer("bob"))]
    answer = await notifications.post(
        "/api/notification", headers=bearer("bob"), json={"post_id": late.post.id}
    )
    assert answer.status_code == 404
