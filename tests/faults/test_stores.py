"""The stores fail under the services: the database restarts, the object store goes away.

Callers get a 503 with a message, never a 500, and nothing is left half-written: no post
without its snippet or its event. (A call cut off with its insert on the way keeps its snippet:
the post may be stored. If it was not, the snippet is an orphan object.) This module runs its
own MongoDB stand-in (on disk, so it keeps its data across the restart) and object store.
"""

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from minio import Minio
from pymongo import MongoClient

from devstack.processes import start_mongo, start_s3, wait_until
from devstack.stack import S3, Names, Stack
from tests.support.polling import eventually

CODE = "print('hello')\n" * 3


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """(mongo process, its URL, its data folder) and the object store, both this module's."""
    folder = tmp_path_factory.mktemp("stores")
    mongo, url = start_mongo("stores-mongo", str(folder / "mongo"))
    s3_proc, endpoint = start_s3("stores-s3", folder / "s3", "stores-key", "stores-secret-key")
    parts = {"mongo": mongo, "url": url, "folder": folder, "s3": s3_proc}
    yield parts, S3(endpoint, "stores-key", "stores-secret-key")
    for name in ("s3", "mongo"):  # the processes running now: a test may have restarted one
        parts[name].stop()


@pytest.fixture(scope="module")
def system(stores, rabbit, keys, tmp_path_factory):
    parts, s3 = stores
    stack = Stack.configure(
        "stores",
        mongo_url=parts["url"],
        s3=s3,
        rabbit_url=rabbit.url,
        keys=keys,
        names=Names(f"stores{uuid.uuid4().hex[:8]}"),
        workdir=tmp_path_factory.mktemp("stores-stack"),
    )
    stack.start_service("notification")
    stack.start_service("post")
    yield stack
    stack.stop()


@pytest.fixture
def client(system, issuer):
    token = issuer.mint("alice", "alice@example.com")
    with httpx.Client(
        base_url=system.urls["post"], headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        yield http


async def _seen(statuses: Counter[int], status: int, count: int) -> bool:
    return statuses[status] >= count


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_database_restart_while_posts_are_made(system, stores, client, issuer, how):
    """Stopped (SIGTERM) or killed (SIGKILL), then restarted on the same data: every post that
    got a 201 is there afterwards with its snippet and its notification. A call that got a 503
    may have been stored all the same (the server applied the insert and its answer was lost):
    sent again with its Idempotency-Key it answers 201, with that post if it was stored, so each
    call ends in exactly one post."""
    parts, s3 = stores
    port = int(parts["url"].rsplit(":", 1)[1].split("/")[0])
    tag = f"restart-{how}-{uuid.uuid4().hex[:6]}"
    statuses: Counter[int] = Counter()
    acknowledged: list[str] = []
    failed: list[tuple[dict[str, Any], str]] = []  # (body, Idempotency-Key) of each 503
    retried: list[str] = []

    def poster() -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=system.urls["post"], headers=dict(client.headers))

    async def post_meanwhile(worker: int, stop: asyncio.Event) -> None:
        async with poster() as http:
            i = 0
            while not stop.is_set():
                body = {"text": f"{tag} {worker}-{i}", "code": CODE if i % 2 else None}
                key = f"{tag}-{worker}-{i}"
                answer = await http.post(
                    "/api/post", json=body, headers={"Idempotency-Key": key}, timeout=30
                )
                statuses[answer.status_code] += 1
                if answer.status_code == 201:
                    acknowledged.append(answer.json()["id"])
                if answer.status_code == 503:
                    assert answer.json()["detail"], "a 503 says why"
                    failed.append((body, key))
                i += 1

    async def scenario() -> None:
        stop = asyncio.Event()
        posting = [asyncio.create_task(post_meanwhile(w, stop)) for w in range(4)]
        await eventually(lambda: _seen(statuses, 201, 20), timeout=30)
        await asyncio.to_thread(getattr(parts["mongo"], how))
        await eventually(lambda: _seen(statuses, 503, 4), timeout=60)
        ok_before = statuses[201]
        restarted, _ = await asyncio.to_thread(
            start_mongo, "stores-mongo", str(parts["folder"] / "mongo"), port
        )
        parts["mongo"] = restarted
        await eventually(lambda: _seen(statuses, 201, ok_before + 20), timeout=60)
        stop.set()
        await asyncio.gather(*posting)
        async with poster() as http:  # what a client does with a 503: the same call again
            for body, key in failed:
                answer = await http.post(
                    "/api/post", json=body, headers={"Idempotency-Key": key}, timeout=30
                )
                assert answer.status_code == 201, answer.text
                retried.append(answer.json()["id"])

    asyncio.run(scenario())
    assert statuses[201] > 0 and statuses[503] > 0, statuses
    assert set(statuses) <= {201, 503}, f"only 201 or 503, never a 500: {statuses}"

    mongo = MongoClient[dict[str, Any]](parts["url"])
    posts = list(mongo[system.databases["post"]]["posts"].find({"text": {"$regex": f"^{tag} "}}))
    print(
        f"database {how}: {len(acknowledged)} posts acknowledged, {len(failed)} calls sent again, "
        f"{len(posts)} stored after"
    )
    assert {str(p["_id"]) for p in posts} >= set(acknowledged), "an acknowledged post was lost"
    # Each call one post: the retries found the ones stored before, and nothing is stored twice.
    assert sorted(str(p["_id"]) for p in posts) == sorted(acknowledged + retried)
    for post in posts:  # each with exactly its own event
        events = post["outbox"]["events"].values()
        assert [e["event"]["post"]["id"] for e in events] == [str(post["_id"])]
    keys = {
        o.object_name
        for o in Minio(s3.endpoint, s3.access_key, s3.secret_key, secure=False).list_objects(
            system.env["S3_BUCKET"], prefix="posts/", recursive=True
        )
    }
    code_keys = {p["code_key"] for p in posts if p["code_key"] is not None}
    assert keys >= code_keys, "a post lost its snippet"

    notifications = mongo[system.databases["notification"]]["notifications"]
    ids = [str(p["_id"]) for p in posts]
    wait_until(
        lambda: notifications.count_documents({"post_id": {"$in": ids}}) == len(ids),
        60,
        "every stored post notified",
    )
    mongo.close()


def test_object_store_down_refuses_code_and_keeps_plain_posts(system, stores, client):
    """The rule: a post with code needs its snippet stored first, so without the object store
    it is refused (503) and nothing is stored; a post without code does not need it."""
    parts, _s3 = stores
    before = client.post("/api/post", json={"text": "code before the outage", "code": CODE})
    assert before.status_code == 201
    parts["s3"].stop()

    with_code = client.post("/api/post", json={"text": "code in the outage", "code": CODE})
    assert with_code.status_code == 503
    assert with_code.json() == {"detail": "snippet storage unavailable, try again"}
    plain = client.post("/api/post", json={"text": "no code in the outage"})
    assert plain.status_code == 201
    opened = client.get(f"/api/post/{before.json()['id']}")
    assert opened.status_code == 503
    assert opened.json() == {"detail": "snippet storage unavailable, try again"}
    assert client.get(f"/api/post/{plain.json()['id']}").status_code == 200
