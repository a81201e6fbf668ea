"""A burst of posts through the gateway (functional, not timed: bench/ holds the figures)."""

import asyncio
import uuid
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from common.outbox import DUE
from tests.support.polling import eventually
from tests.support.users import User

BURST = 500


async def test_a_burst_of_posts_each_becomes_exactly_one_notification(stack, mongo_url):
    author = User(stack.gateway, f"burst-{uuid.uuid4().hex[:8]}@example.com")
    reader = User(stack.gateway, f"reader-{uuid.uuid4().hex[:8]}@example.com")
    for user in (author, reader):
        user.sign_up(), user.sign_in()

    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(
        base_url=stack.gateway, headers=author.http.headers, timeout=60, limits=limits
    ) as client:

        async def post(i: int) -> str:
            body = {"text": f"burst {i}", "code": f"print({i})\n" * 5, "language": "python"}
            answer = await client.post("/api/post", json=body)
            assert answer.status_code == 201, answer.text
            return answer.json()["id"]

        ids = set(await asyncio.gather(*(post(i) for i in range(BURST))))
    assert len(ids) == BURST

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        notifications = mongo[stack.databases["notification"]]["notifications"]
        posts = mongo[stack.databases["post"]]["posts"]

        async def all_notified() -> bool:
            found = await notifications.count_documents({"post_id": {"$in": list(ids)}})
            return found == BURST

        await eventually(all_notified, timeout=120, every=0.5)

        async def outbox_empty() -> bool:
            return await posts.count_documents({DUE: {"$exists": True}}) == 0

        await eventually(outbox_empty, timeout=30)
    finally:
        await mongo.close()

    # The reader pages through them all, each exactly once, through the gateway.
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = reader.http.get("/api/notification", params=params).json()
        seen += [n["post_id"] for n in page["items"] if n["post_id"] in ids]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(seen) == sorted(ids)
