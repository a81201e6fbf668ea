"""Replicas stopped on purpose, as every rolling deploy does, and killed, while posts flow at
about 50/s through the gateway, a user signs in again and again, and streams are open.

Two replicas of every HTTP service behind one gateway (the stack of this module, on the
module's own RabbitMQ node). SIGTERM to one replica of each service in turn: no request fails,
the streams it served resume on the other replica with nothing missed (as the web client does:
`Last-Event-ID`, and the list read again on every connect), and every post ends as exactly one
notification. SIGKILL instead: only requests in flight on that replica may fail,
each as a 502 or 503, and nothing that was accepted is lost.
"""

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from devstack.processes import wait_until
from devstack.sse import StreamClient
from devstack.stack import Stack
from tests.faults.conftest import fault_stack
from tests.support.polling import eventually
from tests.support.streams import what_each_missed
from tests.support.users import User

RATE = 50  # posts per second, open loop
REPLICAS = {"auth": 2, "post": 2, "notification": 2}


@pytest.fixture(scope="module")
def pair(mongo_url, s3, broker, keys, tmp_path_factory) -> Iterator[Stack]:
    stack = fault_stack("shutdown", mongo_url, s3, broker, keys, tmp_path_factory)
    yield stack.start(replicas=REPLICAS)
    stack.stop()


class Load:
    """Open-loop posts at RATE/s and a sign-in loop, counting every answer that is not a
    success (a status, or the error's name)."""

    def __init__(self, stack: Stack, poster: User, reader: User) -> None:
        self.stack, self.poster, self.reader = stack, poster, reader
        self.created: list[str] = []
        self.failed: Counter[str] = Counter()
        self.signins = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.stack.gateway, timeout=30) as http:
            await asyncio.gather(self._posts(http), self._signins(http))

    def stop(self) -> None:
        self._stop.set()

    async def _posts(self, http: httpx.AsyncClient) -> None:
        headers, sent, i = dict(self.poster.http.headers), [], 0
        while not self._stop.is_set():
            sent.append(asyncio.create_task(self._post(http, headers, f"rolling {i}")))
            i += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 1 / RATE)
        await asyncio.gather(*sent)

    async def _post(self, http: httpx.AsyncClient, headers: dict[str, str], text: str) -> None:
        try:
            answer = await http.post("/api/post", json={"text": text}, headers=headers)
        except httpx.HTTPError as exc:
            self.failed[type(exc).__name__] += 1
            return
        if answer.status_code == 201:
            self.created.append(answer.json()["id"])
        else:
            self.failed[f"POST {answer.status_code}"] += 1

    async def _signins(self, http: httpx.AsyncClient) -> None:
        body = {"email": self.reader.email, "password": self.reader.password}
        while not self._stop.is_set():
            try:
                answer = await http.post("/api/signin", json=body)
            except httpx.HTTPError as exc:
                self.failed[type(exc).__name__] += 1
                continue
            if answer.status_code == 200:
                self.signins += 1
            else:
                self.failed[f"signin {answer.status_code}"] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.2)

    async def more_posts(self, count: int, timeout: float = 30) -> None:
        target = len(self.created) + count

        async def reached() -> bool:
            return len(self.created) >= target

        await eventually(reached, timeout)


def person(stack: Stack, name: str) -> User:
    user = User(stack.gateway, f"{name}-{uuid.uuid4().hex[:8]}@example.com")
    user.sign_up()
    return user.sign_in()


def notified_once(stack: Stack, mongo_url: str, post_ids: list[str]) -> None:
    mongo: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    notifications = mongo[stack.databases["notification"]]["notifications"]

    def counts() -> Counter[str]:
        found: Counter[str] = Counter()
        for i in range(0, len(post_ids), 200):
            chunk = post_ids[i : i + 200]
            found.update(d["post_id"] for d in notifications.find({"post_id": {"$in": chunk}}))
        return found

    try:
        wait_until(lambda: len(counts()) == len(set(post_ids)), 60, "every post notified")
        assert set(counts().values()) == {1}, "a post has more than one notification"
    finally:
        mongo.close()


def replicas(stack: Stack) -> list[str]:
    return [stack.urls[key] for key in stack.replicas("notification")]


def both_serve_a_stream(stack: Stack):
    async def check() -> bool:
        return min(map(streams_open, replicas(stack))) >= 1

    return check


def streams_open(url: str) -> float:
    """What a notification replica counts as open streams (its /metrics)."""
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(metrics):
        if family.name == "push_streams_open":
            return sum(sample.value for sample in family.samples)
    raise LookupError("push_streams_open")


async def roll(stack: Stack, how: str) -> Load:
    """One replica of each HTTP service, in turn: stopped (``how`` is "stop", SIGTERM) or
    killed ("kill"), then started again on its port, while the load runs and streams are open
    on both notification replicas; returns the load, stopped, once every stream has seen every
    post."""
    poster, reader = person(stack, "poster"), person(stack, "reader")
    assert reader.token
    load = Load(stack, poster, reader)
    async with contextlib.AsyncExitStack() as streams:
        clients: list[StreamClient] = []
        # Streams until each notification replica serves one. The gateway takes turns (and
        # leaves a replica that failed alone for 10 s), and a client that resynchronises reads
        # the list before each stream: every other client does, or all would land on one.
        deadline = time.monotonic() + 60
        while min(map(streams_open, replicas(stack))) < 1:
            assert time.monotonic() < deadline, "a replica serves no stream"
            resync = len(clients) % 2 == 0
            clients.append(
                await streams.enter_async_context(
                    StreamClient(stack.gateway, reader.token, resync=resync)
                )
            )
            with contextlib.suppress(TimeoutError):
                await eventually(both_serve_a_stream(stack), timeout=1)
        running = asyncio.create_task(load.run())
        await load.more_posts(RATE)
        for service in REPLICAS:
            victim = f"{service}-2"
            port = int(stack.urls[victim].rsplit(":", 1)[1])
            await asyncio.to_thread(getattr(stack.processes.pop(victim), how))
            await load.more_posts(RATE)  # a second of the load on the other replica alone
            await asyncio.to_thread(stack.start_service, service, 2, None, port)
            await load.more_posts(RATE // 2)
        load.stop()
        await running

        async def every_post_seen() -> bool:
            return all(set(load.created) <= client.seen() for client in clients)

        try:
            await eventually(every_post_seen, timeout=90, every=0.2)
        except TimeoutError:
            pytest.fail(what_each_missed(clients, load.created))
        assert sum(client.ends for client in clients) >= 1, "no stream met a stopped replica"
    print(
        f"{how}: {len(load.created)} posts and {load.signins} sign-ins accepted, failed"
        f" {dict(load.failed) or 'none'}; streams ended {[c.ends for c in clients]} times"
    )
    return load


async def test_sigterm_to_one_replica_of_each_service_in_turn_fails_no_request(pair, mongo_url):
    load = await roll(pair, "stop")
    assert not load.failed, f"requests failed while replicas stopped: {load.failed}"
    assert load.signins > 0
    notified_once(pair, mongo_url, load.created)


async def test_sigkill_fails_only_requests_in_flight_as_502_or_503(pair, mongo_url):
    load = await roll(pair, "kill")
    assert set(load.failed) <= {"POST 502", "POST 503", "signin 502", "signin 503"}, load.failed
    # Only what was in flight on the killed replica: a handful, not a second of the load.
    assert sum(load.failed.values()) < RATE, load.failed
    notified_once(pair, mongo_url, load.created)
