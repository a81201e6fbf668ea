"""Faults at scale: a thousand posts meet a broker outage, a killed consumer, a killed
publisher; every post still ends with exactly one notification."""

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from common.outbox import DUE
from devstack.processes import wait_until
from devstack.stack import Stack
from tests.support.polling import eventually

SCALE = 1000
Mongo = MongoClient[dict[str, Any]]


@pytest.fixture(scope="module")
def mongo(mongo_url) -> Iterator[Mongo]:
    client = Mongo(mongo_url)
    yield client
    client.close()


@pytest.fixture
def token(issuer) -> str:
    return issuer.mint("alice", "alice@example.com")


async def create_posts(
    url: str, token: str, texts: list[str], created: list[str], concurrency: int = 20
) -> Counter[str]:
    """POST each text to the post service, ``concurrency`` at a time; ids go to ``created`` as
    they come. Returns what the others got (a status, or the error's name)."""
    failed: Counter[str] = Counter()
    todo = iter(texts)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:

        async def worker() -> None:
            for text in todo:
                try:
                    answer = await client.post("/api/post", json={"text": text})
                except httpx.HTTPError as exc:
                    failed[type(exc).__name__] += 1
                    continue
                if answer.status_code == 201:
                    created.append(answer.json()["id"])
                else:
                    failed[str(answer.status_code)] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failed


async def at_least(items: list[str], count: int, timeout: float = 60) -> None:
    async def reached() -> bool:
        return len(items) >= count

    await eventually(reached, timeout)


def notifications_per_post(system: Stack, mongo: Mongo, post_ids: list[str]) -> Counter[str]:
    notifications = mongo[system.databases["notification"]]["notifications"]
    found: Counter[str] = Counter()
    for i in range(0, len(post_ids), 200):
        chunk = post_ids[i : i + 200]
        found.update(d["post_id"] for d in notifications.find({"post_id": {"$in": chunk}}))
    return found


def each_notified_once(system: Stack, mongo: Mongo, post_ids: list[str], timeout: float) -> None:
    def done() -> bool:
        return len(notifications_per_post(system, mongo, post_ids)) == len(set(post_ids))

    wait_until(done, timeout, f"all {len(post_ids)} posts notified", every=0.5)
    counts = notifications_per_post(system, mongo, post_ids)
    assert set(counts.values()) == {1}, "a post has more than one notification"


def tagged(tag: str) -> list[str]:
    return [f"{tag} {i}" for i in range(SCALE)]


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_broker_stops_while_a_thousand_posts_are_made(system, broker, token, mongo, how):
    """Stopped, or SIGKILLed (nothing flushed on the way out): every event the broker confirmed
    was on disk in the quorum queue, every other one waited in the outbox."""
    created: list[str] = []

    async def scenario() -> Counter[str]:
        posting = asyncio.create_task(
            create_posts(system.urls["post"], token, tagged(f"outage-{how}"), created)
        )
        await at_least(created, SCALE // 4)
        await asyncio.to_thread(getattr(broker, how))
        await at_least(created, SCALE * 3 // 4, timeout=120)
        await asyncio.to_thread(broker.start)
        return await posting

    failed = asyncio.run(scenario())
    assert not failed, f"posts refused while the broker was away: {failed}"
    assert len(created) == SCALE
    each_notified_once(system, mongo, created, timeout=120)


def test_consumer_killed_in_the_middle_of_a_backlog(system, broker, token, mongo):
    queue = system.env["NOTIFICATION_QUEUE"]
    system.stop_service("notification")
    created: list[str] = []
    assert not asyncio.run(create_posts(system.urls["post"], token, tagged("backlog"), created))
    # Every event published and marked; at least once, so a relay that fell behind its claim
    # (a busy machine) may have published some twice: the consumer absorbs those.
    posts = mongo[system.databases["post"]]["posts"]
    wait_until(
        lambda: (
            posts.count_documents({DUE: {"$exists": True}}) == 0
            and broker.queue_depth(queue) >= SCALE
        ),
        60,
        "the backlog in the queue",
    )

    system.start_service("notification")
    wait_until(
        lambda: len(notifications_per_post(system, mongo, created)) >= SCALE // 10,
        60,
        "the consumer under way",
        every=0.02,
    )
    system.processes["notification"].kill()
    assert len(notifications_per_post(system, mongo, created)) < SCALE, "killed too late"

    system.start_service("notification")
    each_notified_once(system, mongo, created, timeout=120)
    wait_until(lambda: broker.queue_depth(queue) == 0, 30, "the queue drained")


def test_publisher_killed_while_publishing_and_restarted(system, token, mongo):
    """SIGKILL lands between publishing and marking for some events (published, not marked):
    after the restart their claims run out and the sweep publishes them again; the consumer
    absorbs the repeats. Every post that was stored gets exactly one notification."""
    tag = f"killed-{uuid.uuid4().hex[:6]}"
    created: list[str] = []

    async def scenario() -> None:
        posting = asyncio.create_task(
            create_posts(system.urls["post"], token, tagged(tag), created)
        )
        await at_least(created, SCALE // 3)
        system.processes["post"].kill()
        await posting  # the rest fail: the service is gone

    asyncio.run(scenario())
    system.start_service("post")
    posts = mongo[system.databases["post"]]["posts"]
    stored = [str(d["_id"]) for d in posts.find({"text": {"$regex": f"^{tag} "}}, {"_id": 1})]
    assert set(created) <= set(stored)
    each_notified_once(system, mongo, stored, timeout=120)
    wait_until(lambda: posts.count_documents({DUE: {"$exists": True}}) == 0, 30, "outbox empty")
