import asyncio
import json
from datetime import timedelta
from typing import Any

import aio_pika
import pytest
from bson import ObjectId
from minio import Minio
from pymongo import AsyncMongoClient

from common.clock import utc_now
from common.events import PostCreated, PostSnapshot
from common.leases import Lease
from common.messaging import EventPublisher
from common.relay import OutboxRelay
from post_service.api import MAX_CODE_BYTES
from post_service.app import create_app as post_app
from tests.integration.conftest import serve_in_process
from tests.support.polling import eventually

CODE = 'def hello():\n    return "<b>&amp;</b>"\n' + "\n".join(f"# line {i}" for i in range(20))


@pytest.fixture
async def event_queue(rabbit, names):
    """A queue of our own bound to the events exchange: what post_service publishes."""
    connection = await aio_pika.connect_robust(rabbit.url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        names.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key=PostCreated.ROUTING_KEY)
    yield queue
    await connection.close()


async def next_event(queue) -> tuple[PostCreated, aio_pika.IncomingMessage]:
    message = await eventually(lambda: queue.get(no_ack=True, fail=False))
    return PostCreated.model_validate_json(message.body), message


async def test_post_with_code_keeps_the_code_in_the_object_store(
    posts, bearer, post_settings, s3, event_queue
):
    created = await posts.post(
        "/api/post",
        headers=bearer("alice"),
        json={"text": "How?", "code": CODE, "language": "python"},
    )
    assert created.status_code == 201
    post = created.json()
    assert post["code"] == CODE and post["author_id"] == "alice"

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(post_settings.mongo_url)
    stored = await mongo[post_settings.mongo_db]["posts"].find_one({"_id": ObjectId(post["id"])})
    await mongo.close()
    assert stored is not None
    assert CODE not in json.dumps(stored, default=str)  # only a short preview is in MongoDB
    minio = Minio(s3.endpoint, s3.access_key, s3.secret_key, secure=False)
    obj = minio.get_object(post_settings.s3_bucket, stored["code_key"])
    assert obj.read().decode() == CODE
    obj.close()

    fetched = await posts.get(f"/api/post/{post['id']}", headers=bearer("bob"))
    assert fetched.status_code == 200
    assert fetched.json() == post


async def test_new_post_is_announced_with_a_post_created_event(posts, bearer, event_queue):
    created = await posts.post(
        "/api/post",
        headers={**bearer("alice"), "X-Request-ID": "req-42abc"},
        json={"text": "Event please", "code": "x = 1"},
    )
    event, message = await next_event(event_queue)
    assert event.post.id == created.json()["id"]
    assert event.post.author_email == "alice@example.com"
    assert event.post.preview == "Event please" and event.post.has_code
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.message_id == event.event_id
    assert message.headers["x-correlation-id"] == "req-42abc"


async def test_published_events_are_marked_in_the_outbox(posts, bearer, event_queue):
    await posts.post("/api/post", headers=bearer("alice"), json={"text": "one"})
    await next_event(event_queue)
    store = posts.app.state.posts

    async def drained():
        return await store.outbox.count_pending() == 0

    await eventually(drained)


async def test_feed_excludes_my_own_posts_and_pages_newest_first(posts, bearer):
    for i in range(5):
        await posts.post("/api/post", headers=bearer("alice"), json={"text": f"alice {i}"})
    await posts.post("/api/post", headers=bearer("bob"), json={"text": "bob's own"})

    first = (await posts.get("/api/post?limit=2", headers=bearer("bob"))).json()
    assert [p["text"] for p in first["items"]] == ["alice 4", "alice 3"]
    second = (
        await posts.get(f"/api/post?limit=2&cursor={first['next_cursor']}", headers=bearer("bob"))
    ).json()
    third = (
        await posts.get(f"/api/post?limit=2&cursor={second['next_cursor']}", headers=bearer("bob"))
    ).json()
    assert [p["text"] for p in second["items"]] == ["alice 2", "alice 1"]
    assert [p["text"] for p in third["items"]] == ["alice 0"]
    assert third["next_cursor"] is None

    mine = (await posts.get("/api/post", headers=bearer("alice"))).json()["items"]
    assert [p["text"] for p in mine] == ["bob's own"]


async def test_feed_items_carry_a_code_preview_not_the_code(posts, bearer):
    await posts.post("/api/post", headers=bearer("alice"), json={"text": "t", "code": CODE})
    item = (await posts.get("/api/post", headers=bearer("bob"))).json()["items"][0]
    assert item["has_code"] is True
    assert "code" not in item
    assert CODE.startswith(item["code_preview"]) and item["code_preview"] != CODE


async def test_unknown_and_malformed_ids_are_404(posts, bearer):
    for post_id in [str(ObjectId()), "not-an-id", "0" * 24 + "0"]:
        answer = await posts.get(f"/api/post/{post_id}", headers=bearer("bob"))
        assert answer.status_code == 404, post_id
        assert answer.json() == {"detail": "post not found"}


async def test_limits_and_bad_input(posts, bearer):
    headers = bearer("alice")
    too_big = await posts.post(
        "/api/post", headers=headers, json={"text": "t", "code": "x" * (MAX_CODE_BYTES + 1)}
    )
    assert too_big.status_code == 413
    assert "64" in too_big.json()["detail"] or str(MAX_CODE_BYTES) in too_big.json()["detail"]
    for body in [
        {},
        {"text": ""},
        {"text": 5},
        {"text": "t", "code": ["x"]},
        {"text": "t", "language": "Not A Language"},
        {"text": {"$gt": ""}},
    ]:
        assert (await posts.post("/api/post", headers=headers, json=body)).status_code == 422
    assert (await posts.get("/api/post?limit=0", headers=headers)).status_code == 422
    assert (await posts.get("/api/post?limit=101", headers=headers)).status_code == 422
    for cursor in ["garbage", "x" * 33]:  # answered like every other invalid field
        bad_cursor = await posts.get("/api/post", params={"cursor": cursor}, headers=headers)
        assert bad_cursor.status_code == 422
        assert [error["loc"] for error in bad_cursor.json()["detail"]] == [["query", "cursor"]]
    assert (await posts.get("/api/post?cursor=", headers=headers)).status_code == 200
    not_utf8 = await posts.post(
        "/api/post",
        headers={**headers, "Content-Type": "application/json"},
        content=b'{"text": "caf\xe9"}',  # Latin-1, not UTF-8
    )
    assert not_utf8.status_code == 400  # as the OpenAPI document says
    assert isinstance(not_utf8.json()["detail"], str)
    feed = (await posts.get("/api/post", headers=bearer("bob"))).json()
    assert feed["items"] == []  # nothing half-written by the refused requests


async def test_every_route_needs_a_valid_token(posts):
    for method, path in [
        ("GET", "/api/post"),
        ("POST", "/api/post"),
        ("GET", f"/api/post/{ObjectId()}"),
    ]:
        for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}]:
            answer = await posts.request(method, path, headers=headers, json={"text": "t"})
            assert answer.status_code == 401, (method, path, headers)


async def test_readiness_reports_each_dependency(posts):
    # The broker connects in the background and is not required: ready from the start.
    answer = await posts.get("/readyz")
    assert answer.status_code == 200
    assert answer.json()["checks"]["mongo"] == answer.json()["checks"]["object_store"] == "ok"

    async def broker_ok():
        return (await posts.get("/readyz")).json()["checks"]["broker"] == "ok"

    await eventually(broker_ok)


async def test_one_relay_at_a_time_sweeps_events_left_behind(posts, post_settings, event_queue):
    """Events whose replica died before publishing fall due; of several replicas' relays, the
    one holding the sweep lease publishes them, each once."""
    state = posts.app.state
    await state.relay.stop()  # only the sweeps below compete
    sent = set()
    for i in range(20):
        post_id, now = ObjectId(), utc_now()
        snapshot = PostSnapshot(
            id=str(post_id),
            author_id="a",
            author_email="a@example.com",
            preview=f"{i}",
            has_code=False,
            created_at=now,
        )
        post = {"_id": post_id, "author_id": "a", "text": f"{i}", "created_at": now}
        await state.posts.insert(post, [PostCreated(post=snapshot)], None, timedelta(0))
        sent.add(str(post_id))

    def relay() -> OutboxRelay:
        publisher = EventPublisher(state.broker, post_settings.events_exchange)
        lease = Lease(state.mongo[post_settings.mongo_db]["leases"], "outbox-sweep:posts")
        return OutboxRelay(
            state.posts.outbox,
            lease,
            state.broker,
            publisher,
            timedelta(seconds=1),
            timedelta(seconds=30),
        )

    published = await asyncio.gather(*(relay().sweep() for _ in range(3)))
    assert sorted(published) == [0, 0, 20]
    assert await state.posts.outbox.count_pending() == 0
    received = [(await next_event(event_queue))[0].post.id for _ in range(20)]
    assert sorted(received) == sorted(sent)
    assert await event_queue.get(fail=False) is None


async def test_feed_reaches_past_many_of_my_own_posts(posts, bearer):
    await posts.post("/api/post", headers=bearer("alice"), json={"text": "alice's"})
    for i in range(60):
        await posts.post("/api/post", headers=bearer("bob"), json={"text": f"bob {i}"})
    feed = (await posts.get("/api/post?limit=2", headers=bearer("bob"))).json()
    assert [p["text"] for p in feed["items"]] == ["alice's"]
    assert feed["next_cursor"] is None


async def test_a_busy_replica_refuses_posts_with_503_and_stores_none_of_them(
    post_settings, bearer, s3, event_queue
):
    """Load shedding (common/admission.py): one post at work at a time and no waiting, so posts
    sent together are refused but one; every refusal is a 503 with Retry-After and a message,
    and stores nothing (no post, no snippet, no event), while every 201 is stored and announced."""
    settings = post_settings.model_copy(
        update={"post_max_at_work": 1, "post_max_wait": timedelta(0)}
    )
    async with serve_in_process(post_app(settings)) as replica:
        body = {"text": "busy?", "code": "print('busy')"}
        answers = await asyncio.gather(
            *(replica.post("/api/post", json=body, headers=bearer("ann")) for _ in range(8))
        )
        created = [a.json()["id"] for a in answers if a.status_code == 201]
        refused = [a for a in answers if a.status_code != 201]
        assert created and refused, [a.status_code for a in answers]
        for answer in refused:
            assert answer.status_code == 503, answer.text
            assert int(answer.headers["Retry-After"]) >= 1
            assert "busy" in answer.json()["detail"]
        feed = (await replica.get("/api/post", headers=bearer("bob"))).json()["items"]
        assert sorted(item["id"] for item in feed) == sorted(created)
        minio = Minio(s3.endpoint, s3.access_key, s3.secret_key, secure=False)
        snippets = list(minio.list_objects(settings.s3_bucket, prefix="posts/", recursive=True))
        assert sorted(o.object_name for o in snippets) == sorted(f"posts/{i}.txt" for i in created)
        # Once the replica is free again, a post is taken; the events up to its own are those
        # of the posts created, each once.
        last = await replica.post("/api/post", json=body, headers=bearer("ann"))
        assert last.status_code == 201, last.text
        announced: list[str] = []
        while last.json()["id"] not in announced:
            event, _message = await next_event(event_queue)
            announced.append(event.post.id)
        assert sorted(announced) == sorted([*created, last.json()["id"]])
