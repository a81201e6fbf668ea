"""Per-user limits, against the real store: past a limit the answer is 429 with Retry-After and
a message; another user is never slowed; two replicas of a service (two apps on one database)
share one limit; the account lock after failed sign-ins is bounded."""

import asyncio
import time
from collections.abc import Awaitable
from datetime import timedelta

import httpx
import pytest

from auth_service.app import create_app as auth_app
from common.limits import Limited, Rate, RateLimit
from common.mongo import connect_mongo
from notification_service.app import create_app as notification_app
from notification_service.streams import OpenStreams
from post_service.app import create_app as post_app
from tests.integration.conftest import serve_in_process
from tests.integration.test_push import Client, stream_request
from tests.support.polling import eventually


def assert_refused(answer: httpx.Response, at_most: timedelta) -> int:
    assert answer.status_code == 429, answer.text
    assert answer.json()["detail"]
    retry_after = int(answer.headers["Retry-After"])
    assert 1 <= retry_after <= max(1, at_most.total_seconds())
    return retry_after


@pytest.fixture
async def limits(mongo_url, names):
    client = connect_mongo(mongo_url)
    yield client[names.database("post")]["limits"]
    await client.drop_database(names.database("post"))
    await client.close()


async def test_a_rate_limit_allows_its_burst_then_one_per_interval(limits):
    limit = RateLimit(limits, "test", Rate(3, timedelta(seconds=0.5)), "slow down")
    await limit.create_indexes()
    for _ in range(3):
        await limit.take("ann")
    with pytest.raises(Limited) as refused:
        await limit.take("ann")
    assert timedelta(0) < refused.value.retry_after <= timedelta(seconds=0.5)
    assert refused.value.message == "slow down"
    await limit.take("bob")  # another key has a bucket of its own

    started = time.monotonic()
    await eventually(lambda: allowed(limit.take("ann")), timeout=5)
    assert time.monotonic() - started >= 0.2  # one came back after about an interval
    with pytest.raises(Limited):  # ... and only one
        await limit.take("ann")


async def test_a_rate_limit_is_shared_by_every_client_of_the_database(limits, mongo_url):
    other_client = connect_mongo(mongo_url)
    other = other_client[limits.database.name]["limits"]
    rate = Rate(4, timedelta(hours=1))
    here, there = RateLimit(limits, "shared", rate, "no"), RateLimit(other, "shared", rate, "no")
    # The first take makes the bucket, alone: concurrent first takes are upserts racing on one
    # `_id`, and the local stand-in loses one of them now and then (7 of 200 rounds, measured;
    # mongod retries such an upsert itself, and `take` retries a DuplicateKeyError).
    await here.take("ann")
    await asyncio.gather(*(limiter.take("ann") for limiter in (there, here, there)))
    for limiter in (here, there):
        with pytest.raises(Limited):
            await limiter.take("ann")
        with pytest.raises(Limited):
            await limiter.check("ann")
    await other_client.close()


async def test_posts_past_the_burst_are_429_for_that_user_only_on_every_replica(
    post_settings, bearer
):
    settings = post_settings.model_copy(
        update={"post_limit_burst": 3, "post_limit_interval": timedelta(minutes=1)}
    )
    async with (
        serve_in_process(post_app(settings)) as one,
        serve_in_process(post_app(settings)) as two,
    ):
        ann, bob = bearer("ann"), bearer("bob")
        for replica in (one, two, one):
            answer = await replica.post("/api/post", json={"text": "hi"}, headers=ann)
            assert answer.status_code == 201, answer.text
        for replica in (one, two):
            refused = await replica.post("/api/post", json={"text": "hi"}, headers=ann)
            assert_refused(refused, timedelta(minutes=1))
            assert "too fast" in refused.json()["detail"]
        assert (await two.post("/api/post", json={"text": "hi"}, headers=bob)).status_code == 201
        feed = (await two.get("/api/post", headers=bob)).json()["items"]
        assert [item["author_id"] for item in feed] == ["ann"] * 3  # nothing refused was stored


async def test_notification_writes_and_read_marks_share_one_limit_per_user(
    notification_settings, bearer
):
    settings = notification_settings.model_copy(
        update={
            "notification_write_limit_burst": 2,
            "notification_write_limit_interval": timedelta(minutes=1),
            "consume_events": False,
            "push_events": False,
        }
    )
    async with (
        serve_in_process(notification_app(settings)) as one,
        serve_in_process(notification_app(settings)) as two,
    ):
        ann, bob = bearer("ann"), bearer("bob")
        unknown = "/api/notification/0123456789abcdef01234567/read"
        assert (await one.post(unknown, headers=ann)).status_code == 404
        answer = await two.post("/api/notification", json={"post_id": "p"}, headers=ann)
        assert answer.status_code == 404
        assert_refused(await one.post(unknown, headers=ann), timedelta(minutes=1))
        refused = await two.post("/api/notification", json={"post_id": "p"}, headers=ann)
        assert_refused(refused, timedelta(minutes=1))
        assert (await two.post(unknown, headers=bob)).status_code == 404


async def test_streams_per_user_are_counted_across_replicas(notification_settings, bearer):
    settings = notification_settings.model_copy(
        update={"streams_per_user": 2, "consume_events": False}
    )
    async with (
        serve_in_process(notification_app(settings)) as one,
        serve_in_process(notification_app(settings)) as two,
    ):
        held: list[asyncio.Task[None]] = []

        async def open_stream(replica, user: str) -> Client:
            client = Client(reads=True)
            held.append(
                asyncio.create_task(
                    replica.app(stream_request(bearer(user)), client.receive, client.send)
                )
            )
            await eventually(lambda: _done(client.status is not None or held[-1].done()))
            return client

        assert (await open_stream(one, "ann")).status == 200
        assert (await open_stream(two, "ann")).status == 200
        refused = await two.get("/api/notification/stream", headers=bearer("ann"))
        assert_refused(refused, timedelta(seconds=30))
        assert "2 notification streams" in refused.json()["detail"]
        assert (await open_stream(one, "bob")).status == 200  # another user is not counted

        held[0].cancel()  # ann closes one: she may open another, on any replica
        await asyncio.gather(held[0], return_exceptions=True)
        assert (await open_stream(two, "ann")).status == 200
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)


async def test_the_streams_of_a_replica_that_died_stop_counting_when_their_lease_lapses(limits):
    died = OpenStreams(limits.database["streams"], per_user=1, lease=timedelta(seconds=0.5))
    alive = OpenStreams(limits.database["streams"], per_user=1, lease=timedelta(seconds=0.5))
    await died.create_indexes()
    await died.open("ann")  # and never renewed, nor closed: its replica was killed
    with pytest.raises(Limited):
        await alive.open("ann")
    await eventually(lambda: allowed(alive.open("ann")), timeout=5)


async def test_failed_sign_ins_lock_the_account_briefly_whatever_the_address(auth_settings):
    interval = timedelta(seconds=1)
    settings = auth_settings.model_copy(
        update={"signin_failure_limit_burst": 3, "signin_failure_limit_interval": interval}
    )
    async with (
        serve_in_process(auth_app(settings)) as one,
        serve_in_process(auth_app(settings)) as two,
    ):
        owner = {"email": "owner@example.com", "password": "correct horse"}
        wrong = {**owner, "password": "a guess, wrong"}
        other = {"email": "other@example.com", "password": "correct horse"}
        for body in (owner, other):
            assert (await one.post("/api/signup", json=body)).status_code == 201
        for replica in (one, two, one):
            assert (await replica.post("/api/signin", json=wrong)).status_code == 401
        assert_refused(await two.post("/api/signin", json=wrong), interval)
        assert_refused(await one.post("/api/signin", json=owner), interval)  # no oracle
        assert (await two.post("/api/signin", json=other)).status_code == 200
        unknown = {"email": "nobody@example.com", "password": "a guess, wrong"}
        answers = [(await one.post("/api/signin", json=unknown)).status_code for _ in range(4)]
        assert answers == [401, 401, 401, 429]  # an unknown address looks the same

        # The lock lasts at most one interval: then the owner signs in.
        async def owner_signed_in() -> bool:
            return (await two.post("/api/signin", json=owner)).status_code == 200

        started = time.monotonic()
        await eventually(owner_signed_in, timeout=5)
        assert time.monotonic() - started <= interval.total_seconds() + 1


async def allowed(attempt: Awaitable[object]) -> bool:
    """Whether a limit let ``attempt`` through."""
    try:
        await attempt
    except Limited:
        return False
    return True


async def _done(value: bool) -> bool:
    return value
