"""Everything notification_service keeps in MongoDB.

- ``posts``: what this service has learnt of posts from PostCreated events (its own copy; it
  never asks post_service).
- ``notifications``: ONE per post, whoever reads it (fan-out on read): a post costs a constant
  number of writes however many users there are. ``post_id`` is unique, so a redelivered event
  cannot create a second one.
- ``reads``: per-user read state, one small document per (user, notification) opened.
"""

import contextlib
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.events import PostSnapshot
from common.pagination import NEWEST_FIRST, after_cursor, utc_now


class NotificationStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._posts = db["posts"]
        self._notifications = db["notifications"]
        self._reads = db["reads"]

    async def create_indexes(self) -> None:
        await self._notifications.create_index("post_id", unique=True, name="one_per_post")
        await self._notifications.create_index(NEWEST_FIRST, name="newest_first")
        await self._reads.create_index(
            [("user_id", ASCENDING), ("notification_id", ASCENDING)],
            unique=True,
            name="one_per_user",
        )
        await self._reads.create_index("notification_created_at", name="by_age")

    async def record_post(self, post: PostSnapshot) -> None:
        """Remember a post this service has been told of (idempotent)."""
        await self._posts.update_one(
            {"_id": post.id},
            {"$setOnInsert": {**post.model_dump(exclude={"id"}), "seen_at": utc_now()}},
            upsert=True,
        )

    async def known_post(self, post_id: str) -> PostSnapshot | None:
        doc = await self._posts.find_one({"_id": post_id})
        if doc is None:
            return None
        return PostSnapshot(id=doc.pop("_id"), **doc)

    async def ensure_notification(self, post: PostSnapshot) -> tuple[dict[str, Any], bool]:
        """The notification for ``post``, created unless it exists; True when created now.

        The unique index on ``post_id`` decides: of two concurrent deliveries one inserts and
        the other reads what the first wrote.
        """
        doc = {
            "_id": ObjectId(),
            "post_id": post.id,
            "author_id": post.author_id,
            "author_email": post.author_email,
            "preview": post.preview,
            "created_at": post.created_at,
        }
        try:
            await self._notifications.insert_one(doc)
        except DuplicateKeyError:
            existing = await self._notifications.find_one({"post_id": post.id})
            if existing is None:  # deleted by the cleaner in between: nothing to return to
                raise
            return existing, False
        return doc, True

    async def page_for(self, user_id: str, limit: int, cursor: str | None) -> list[dict]:
        """Notifications of other users' posts, newest first, ``limit + 1`` of them, each with
        ``read`` for this user."""
        query = {"author_id": {"$ne": user_id}, **after_cursor(cursor)}
        docs = await self._notifications.find(query).sort(NEWEST_FIRST).limit(limit + 1).to_list()
        read_ids = await self.read_ids(user_id, [d["_id"] for d in docs])
        return [{**d, "read": d["_id"] in read_ids} for d in docs]

    async def read_ids(self, user_id: str, ids: list[ObjectId]) -> set[ObjectId]:
        found = self._reads.find(
            {"user_id": user_id, "notification_id": {"$in": ids}}, {"notification_id": 1}
        )
        return {d["notification_id"] async for d in found}

    async def unread_count(self, user_id: str) -> int:
        total = await self._notifications.count_documents({"author_id": {"$ne": user_id}})
        read = await self._reads.count_documents({"user_id": user_id})
        # The cleaner deletes notifications before their reads: clamp that brief difference.
        return max(0, total - read)

    async def mark_read(self, notification_id: ObjectId, user_id: str) -> bool:
        """Mark read for this user only; False when there is no such notification for them."""
        notification = await self._notifications.find_one(
            {"_id": notification_id, "author_id": {"$ne": user_id}}, {"created_at": 1}
        )
        if notification is None:
            return False
        # Two concurrent upserts may race on the unique index: the loser's work is done.
        with contextlib.suppress(DuplicateKeyError):
            await self._reads.update_one(
                {"user_id": user_id, "notification_id": notification_id},
                {
                    "$setOnInsert": {
                        "read_at": utc_now(),
                        "notification_created_at": notification["created_at"],
                    }
                },
                upsert=True,
            )
        return True

    async def delete_older_than(self, cutoff: datetime, batch_size: int) -> tuple[int, int]:
        """Delete notifications created before ``cutoff`` and their read state, in batches.

        Safe to run twice at once: each batch deletes by id what is still there.
        Returns (notifications, reads) deleted.
        """
        notifications = await _delete_in_batches(
            self._notifications, {"created_at": {"$lt": cutoff}}, batch_size
        )
        reads = await _delete_in_batches(
            self._reads, {"notification_created_at": {"$lt": cutoff}}, batch_size
        )
        return notifications, reads


async def _delete_in_batches(collection: AsyncCollection, query: dict, batch_size: int) -> int:
    deleted = 0
    while True:
        ids = [d["_id"] async for d in collection.find(query, {"_id": 1}).limit(batch_size)]
        if not ids:
            return deleted
        result = await collection.delete_many({"_id": {"$in": ids}})
        deleted += result.deleted_count
