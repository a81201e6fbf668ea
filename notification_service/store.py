"""Everything notification_service keeps in MongoDB.

- ``posts``: what this service has learnt of posts from PostCreated events (its own copy; it
  never asks post_service).
- ``notifications``: ONE per post, whoever reads it (fan-out on read): a post costs a constant
  number of writes however many users there are. ``post_id`` is unique, so a redelivered event
  cannot create a second one. ``seq`` numbers them in arrival order for bounded page reads.
- ``reads``: per-user read state, one small document per (user, notification) opened.

Retention: a notification lives ``retention`` (NOTIFICATION_MAX_AGE) from its post's creation.
The cleaner then deletes it, its read state and the record of its post; this store makes no
notification for a post older than ``retention - RETENTION_MARGIN``. The two windows never
meet, so nothing the cleaner deletes comes back (neither from a late redelivery nor from
``POST /api/notification``), whatever runs at the same moment.
"""

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DeleteOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from common.clock import utc_now
from common.events import NotificationSnapshot, PostSnapshot
from common.mongo import Collection, Database, Document
from common.pagination import SEQ_INDEX, Sequence, newest_first

DUPLICATE_KEY = 11000
# The badge counts unread notifications among the newest this many ("99+" past it), so the
# count is one bounded read however many notifications exist.
UNREAD_CAP = 100
# Longer than any request or batch takes: see "Retention" above.
RETENTION_MARGIN = timedelta(minutes=1)


class NotificationStore:
    def __init__(self, db: Database, retention: timedelta) -> None:
        self._retention = retention
        self._posts = db["posts"]
        self._notifications = db["notifications"]
        self._reads = db["reads"]
        self._sequence = Sequence(db, "notifications")

    async def create_indexes(self) -> None:
        await self._sequence.create()
        await self._notifications.create_index("post_id", unique=True, name="one_per_post")
        await self._notifications.create_index(SEQ_INDEX, name="by_seq")
        await self._notifications.create_index("created_at", name="by_age")
        await self._reads.create_index(
            [("user_id", ASCENDING), ("notification_id", ASCENDING)],
            unique=True,
            name="one_per_user",
        )
        await self._reads.create_index(
            [("user_id", ASCENDING), ("notification_seq", ASCENDING)], name="by_user_seq"
        )
        await self._reads.create_index("notification_created_at", name="by_age")
        await self._posts.create_index("created_at", name="by_age")

    def _writable_since(self) -> datetime:
        return utc_now() - self._retention + min(RETENTION_MARGIN, self._retention / 2)

    async def known_post(self, post_id: str) -> PostSnapshot | None:
        """The record of a post still within retention (None: never seen, or expired)."""
        doc = await self._posts.find_one({"_id": post_id})
        if doc is None or doc["created_at"] < self._writable_since():
            return None
        return PostSnapshot(id=doc.pop("_id"), **doc)

    async def add(self, posts: list[PostSnapshot]) -> list[NotificationSnapshot]:
        """Record each post and store its notification unless it exists; returns the
        notifications added now.

        Two unordered bulk inserts and one counter update per batch. Unique keys decide between
        concurrent or repeated deliveries: a duplicate is skipped.
        """
        since = self._writable_since()
        posts = [post for post in posts if post.created_at >= since]
        if not posts:
            return []
        seen_at = utc_now()
        await _insert_new(
            self._posts,
            [{"_id": p.id, **p.model_dump(exclude={"id"}), "seen_at": seen_at} for p in posts],
        )
        last = await self._sequence.reserve(len(posts))
        docs = [
            {
                "_id": ObjectId(),
                "seq": last - len(posts) + 1 + i,
                "post_id": post.id,
                "author_id": post.author_id,
                "author_email": post.author_email,
                "preview": post.preview,
                "created_at": post.created_at,
            }
            for i, post in enumerate(posts)
        ]
        return [_snapshot(doc) for doc in await _insert_new(self._notifications, docs)]

    async def for_post(self, post_id: str) -> dict[str, Any] | None:
        return await self._notifications.find_one({"post_id": post_id})

    async def notifications_of(self, post_ids: list[str]) -> list[NotificationSnapshot]:
        """The stored notifications of these posts: a point read each (only redeliveries ask)."""
        docs = await asyncio.gather(*(self.for_post(post_id) for post_id in post_ids))
        return [_snapshot(doc) for doc in docs if doc is not None]

    async def page_for(self, user_id: str, limit: int, cursor: str | None) -> list[Document]:
        """Notifications of other users' posts, newest first, ``limit + 1`` of them, each with
        ``read`` for this user."""
        docs = await self._newest_for(user_id, limit + 1, cursor)
        read_ids = await self.read_ids(user_id, docs)
        return [{**d, "read": d["_id"] in read_ids} for d in docs]

    async def read_ids(self, user_id: str, notifications: list[Document]) -> set[ObjectId]:
        """Which of ``notifications`` (with ``_id`` and ``seq``) this user has opened: one index
        range over the user's reads between the lowest and highest ``seq``."""
        if not notifications:
            return set()
        seqs = [n["seq"] for n in notifications]
        found = self._reads.find(
            {"user_id": user_id, "notification_seq": {"$gte": min(seqs), "$lte": max(seqs)}},
            {"notification_id": 1},
        )
        wanted = {n["_id"] for n in notifications}
        return {d["notification_id"] async for d in found} & wanted

    async def since(self, user_id: str, seq: int, limit: int) -> list[Document]:
        """Notifications of others' posts after ``seq`` (what a stream missed), oldest first: at
        most the newest ``limit`` of them, each with ``read`` for this user."""
        docs = await newest_first(
            self._notifications,
            top=await self._sequence.current(),
            limit=limit,
            floor=seq,
            where={"author_id": {"$ne": user_id}},
        )
        read_ids = await self.read_ids(user_id, docs)
        return [{**d, "read": d["_id"] in read_ids} for d in reversed(docs)]

    async def unread_count(self, user_id: str) -> int:
        """Unread notifications among the newest ``UNREAD_CAP`` of others' posts."""
        docs = await self._newest_for(user_id, UNREAD_CAP, None, projection={"seq": 1})
        return len(docs) - len(await self.read_ids(user_id, docs))

    async def _newest_for(
        self, user_id: str, limit: int, cursor: str | None, projection: Document | None = None
    ) -> list[Document]:
        return await newest_first(
            self._notifications,
            top=await self._sequence.current(),
            limit=limit,
            cursor=cursor,
            where={"author_id": {"$ne": user_id}},
            projection=projection,
        )

    async def mark_read(self, notification_id: ObjectId, user_id: str) -> bool:
        """Mark read for this user only; False when there is no such notification for them."""
        notification = await self._notifications.find_one(
            {"_id": notification_id, "author_id": {"$ne": user_id}}, {"created_at": 1, "seq": 1}
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
                        "notification_seq": notification["seq"],
                        "notification_created_at": notification["created_at"],
                    }
                },
                upsert=True,
            )
        return True

    async def delete_older_than(self, cutoff: datetime, batch_size: int) -> tuple[int, int]:
        """Delete notifications created before ``cutoff``, their read state and the records of
        their posts, in batches.

        Safe to run twice at once: each batch deletes by id what is still there.
        Returns (notifications, reads) deleted.
        """
        notifications = await _delete_in_batches(
            self._notifications, {"created_at": {"$lt": cutoff}}, batch_size
        )
        reads = await _delete_in_batches(
            self._reads, {"notification_created_at": {"$lt": cutoff}}, batch_size
        )
        await _delete_in_batches(self._posts, {"created_at": {"$lt": cutoff}}, batch_size)
        return notifications, reads


async def _insert_new(collection: Collection, docs: list[Document]) -> list[Document]:
    """Insert ``docs``, skipping those a unique key says exist; returns the ones inserted."""
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        skipped = {e["index"] for e in errors}
        return [d for i, d in enumerate(docs) if i not in skipped]
    return docs


async def _delete_in_batches(collection: Collection, query: Document, batch_size: int) -> int:
    deleted = 0
    while True:
        ids = [d["_id"] async for d in collection.find(query, {"_id": 1}).limit(batch_size)]
        if not ids:
            return deleted
        # Point deletes in one bulk write: an ``$in`` filter is quadratic on the local stand-in.
        result = await collection.bulk_write([DeleteOne({"_id": i}) for i in ids], ordered=False)
        deleted += result.deleted_count


def _snapshot(doc: Document) -> NotificationSnapshot:
    return NotificationSnapshot(id=str(doc["_id"]), **{k: v for k, v in doc.items() if k != "_id"})
