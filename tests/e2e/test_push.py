"""Push to browsers with several replicas of every service: 3 notification and 2 post replicas
behind one gateway (``replicated_stack``). Streams are read by devstack/sse.py, which does
what the web client does."""

import asyncio
import contextlib
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from devstack.sse import STREAM, StreamClient
from tests.support.polling import eventually
from tests.support.streams import what_each_missed
from tests.support.users import User


def person(stack, name: str) -> User:
    user = User(stack.gateway, f"{name}-{uuid.uuid4().hex[:8]}@example.com")
    user.sign_up()
    return user.sign_in()


def token(user: User) -> str:
    assert user.token is not None, "signed in"
    return user.token


async def post_many(stack, user: User, texts: list[str], at_once: int = 10) -> list[str]:
    """Post each text through the gateway, ``at_once`` at a time; the posts' ids in order."""
    limit = asyncio.Semaphore(at_once)
    async with httpx.AsyncClient(
        base_url=stack.gateway, headers=user.http.headers, timeout=60
    ) as client:

        async def post(text: str) -> str:
            async with limit:
                answer = await client.post("/api/post", json={"text": text})
            assert answer.status_code == 201, answer.text
            return answer.json()["id"]

        return list(await asyncio.gather(*(post(text) for text in texts)))


def has_all(client: StreamClient, post_ids: list[str]):
    async def check() -> bool:
        return set(post_ids) <= client.seen()

    return check


async def test_streams_on_different_replicas_each_get_a_notification_exactly_once(
    replicated_stack,
):
    stack = replicated_stack
    alice, bob, carol = (person(stack, name) for name in ("alice", "bob", "carol"))
    replicas = [stack.urls[key] for key in stack.replicas("notification")]
    assert len(replicas) == 3
    async with contextlib.AsyncExitStack() as streams:
        # Bob on every replica, held there (not through the gateway, which would choose).
        bobs = [
            await streams.enter_async_context(StreamClient(url, token(bob), reconnect=False))
            for url in replicas
        ]
        alices = await streams.enter_async_context(
            StreamClient(stack.gateway, token(alice), reconnect=False)
        )
        mine = [alice.post(f"alice's question {i}")["id"] for i in range(2)]
        for stream in bobs:
            await eventually(has_all(stream, mine), timeout=20)
        # Carol's post comes after Alice's: once every stream has it, none gets more of Alice's.
        marker = carol.post("carol's question")["id"]
        for stream in [*bobs, alices]:
            await eventually(has_all(stream, [marker]), timeout=20)

    for stream in bobs:
        assert stream.times_pushed() == {mine[0]: 1, mine[1]: 1, marker: 1}
        assert stream.ends == 0
    # The author is never notified of her own posts.
    assert alices.times_pushed() == {marker: 1}

    # Streams whose clients left are let go on every replica.
    async with httpx.AsyncClient(timeout=10) as http:

        async def released() -> bool:
            pages = [(await http.get(f"{url}/metrics")).text for url in replicas]
            return all(_value(page, "push_streams_open") == 0 for page in pages)

        await eventually(released, timeout=20, every=0.2)


async def test_a_resumed_stream_is_sent_what_it_missed(replicated_stack):
    stack = replicated_stack
    alice, bob = person(stack, "alice"), person(stack, "bob")
    async with StreamClient(stack.gateway, token(bob), reconnect=False) as stream:
        first = alice.post("before the break")["id"]
        await eventually(has_all(stream, [first]), timeout=20)
    assert stream.last_event_id is not None

    missed = [alice.post(f"during the break {i}")["id"] for i in range(3)]

    async def all_stored() -> bool:  # so the resumed stream is sent all three from the store
        return set(missed) <= {n["post_id"] for n in await asyncio.to_thread(bob.notifications)}

    await eventually(all_stored, timeout=20)
    async with StreamClient(
        stack.gateway, token(bob), reconnect=False, last_event_id=stream.last_event_id
    ) as resumed:
        await eventually(has_all(resumed, missed), timeout=20)
    # Each once, oldest first (by seq: the replicas that store them may take them in any order),
    # and nothing from before the break again.
    sent = [n["post_id"] for n in resumed.pushed]
    seqs = [int(resumed.seq_of[post]) for post in sent]
    assert sorted(sent) == sorted(missed)
    assert seqs == sorted(seqs)
    assert int(stream.last_event_id) < seqs[0]

    async with httpx.AsyncClient(base_url=stack.gateway, timeout=10) as http:
        headers = {**bob.http.headers, "Last-Event-ID": "not-a-number"}
        assert (await http.get(STREAM, headers=headers)).status_code == 422
        assert (await http.get(STREAM)).status_code == 401


async def test_a_replica_killed_with_streams_open_loses_nothing(replicated_stack, mongo_url):
    """SIGKILL one notification replica while posts are made and six streams are open through
    the gateway (two per replica): every post still gets exactly one notification, and the
    streams of the dead replica reconnect to another and catch up."""
    stack = replicated_stack
    alice, bob = person(stack, "alice"), person(stack, "bob")
    victim = "notification-3"
    port = int(stack.urls[victim].rsplit(":", 1)[1])
    async with contextlib.AsyncExitStack() as streams:
        clients = [
            await streams.enter_async_context(StreamClient(stack.gateway, token(bob), resync=True))
            for _ in range(6)
        ]
        before = await post_many(stack, alice, [f"before {i}" for i in range(60)])
        posting = asyncio.create_task(
            post_many(stack, alice, [f"around the kill {i}" for i in range(120)])
        )
        stack.processes.pop(victim).kill()
        stack.urls.pop(victim)
        ids = before + await posting
        try:
            for client in clients:
                await eventually(has_all(client, ids), timeout=60, every=0.2)
        except TimeoutError:
            pytest.fail(what_each_missed(clients, ids))
        assert sum(client.ends for client in clients) >= 1, "no stream was on the killed replica"
        assert all(client.connects == client.ends + 1 for client in clients)

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        notifications = mongo[stack.databases["notification"]]["notifications"]
        stored = await notifications.count_documents({"post_id": {"$in": ids}})
    finally:
        await mongo.close()
    assert stored == len(ids)
    # Back to three replicas, where the gateway expects the third, for the tests after this one.
    stack.start_service("notification", 3, port=port)


def _value(metrics: str, family: str) -> float:
    for found in text_string_to_metric_families(metrics):
        if found.name == family:
            return sum(sample.value for sample in found.samples)
    raise LookupError(family)
