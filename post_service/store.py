"""Everything post_service keeps in MongoDB: posts, each with its outbox entry.

A post and the event announcing it are written in ONE document insert, so there is never a post
without its event or an event without its post. The relay later claims due events, publishes
them and marks them published.
"""

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from common.pagination import NEWEST_FIRST, after_cursor, utc_now

PENDING = "pending"
PUBLISHED = "published"


class PostStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._posts = db["posts"]

    async def create_indexes(self) -> None:
        await self._posts.create_index(NEWEST_FIRST, name="newest_first")
        await self._posts.create_index(
            [("outbox.state", ASCENDING), ("outbox.next_attempt_at", ASCENDING)],
            name="outbox_due",
        )

    async def insert(self, post: dict[str, Any], event: dict[str, Any], correlation: str | None):
        """Store the post together with its pending event."""
        outbox = {
            "state": PENDING,
            "event": event,
            "correlation_id": correlation,
            "attempts": 0,
            "next_attempt_at": post["created_at"],
        }
        await self._posts.insert_one({**post, "outbox": outbox})

    async def get(self, post_id: ObjectId) -> dict[str, Any] | None:
        return await self._posts.find_one({"_id": post_id}, {"outbox": 0})

    async def feed(self, exclude_author: str, limit: int, cursor: str | None) -> list[dict]:
        """The newest posts not by ``exclude_author``; ``limit + 1`` to tell if more exist."""
        query = {"author_id": {"$ne": exclude_author}, **after_cursor(cursor)}
        found = self._posts.find(query, {"outbox": 0}).sort(NEWEST_FIRST).limit(limit + 1)
        return await found.to_list()

    async def claim_due_event(self, claim_timeout: timedelta) -> dict[str, Any] | None:
        """Atomically take the oldest due event for ``claim_timeout``.

        Another relay (another replica) skips it until then; if this one dies before it marks
        the event published, the event falls due again and is published once more, which the
        idempotent consumer absorbs (at-least-once delivery).
        """
        now = utc_now()
        return await self._posts.find_one_and_update(
            {"outbox.state": PENDING, "outbox.next_attempt_at": {"$lte": now}},
            {
                "$set": {"outbox.next_attempt_at": now + claim_timeout},
                "$inc": {"outbox.attempts": 1},
            },
            sort=[("outbox.next_attempt_at", ASCENDING)],
            projection={"outbox": 1},
            return_document=ReturnDocument.AFTER,
        )

    async def mark_published(self, post_id: ObjectId, at: datetime | None = None) -> None:
        await self._posts.update_one(
            {"_id": post_id},
            {"$set": {"outbox.state": PUBLISHED, "outbox.published_at": at or utc_now()}},
        )

    async def count_pending(self) -> int:
        return await self._posts.count_documents({"outbox.state": PENDING})
