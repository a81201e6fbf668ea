"""Everything post_service keeps in MongoDB: posts, each with its outbox entry.

A post and the event announcing it are written in ONE document insert, so there is never a post
without its event or an event without its post. While the event waits to be published the
document carries ``outbox.due``: the time after which any relay may publish it. The field is in
a sparse index and is removed once the event is published, so finding what is due reads only
pending events, however many posts there are.
"""

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from common.clock import utc_now
from common.events import Event
from common.mongo import Database, Document
from common.pagination import SEQ_INDEX, Sequence, newest_first

PENDING = "pending"
PUBLISHED = "published"
FAILED = "failed"

DUE = "outbox.due"


class PostStore:
    def __init__(self, db: Database) -> None:
        self._posts = db["posts"]
        self._leases = db["leases"]
        self._sequence = Sequence(db, "posts")

    async def create_indexes(self) -> None:
        await self._sequence.create()
        await self._posts.create_index(SEQ_INDEX, name="by_seq")
        await self._posts.create_index([(DUE, ASCENDING)], name="outbox_due", sparse=True)

    async def insert(
        self,
        post: Document,
        event: Event,
        correlation: str | None,
        claim_timeout: timedelta,
    ) -> None:
        """Store the post, numbered in the feed's order, with its pending event, claimed by the
        caller for ``claim_timeout``.

        The caller publishes the event right away; only if it has not marked it published by
        then does the event fall due for the sweep (of any replica).
        """
        outbox = {
            "state": PENDING,
            "routing_key": event.ROUTING_KEY,
            "event": event.model_dump(mode="json"),
            "correlation_id": correlation,
            "due": post["created_at"] + claim_timeout,
        }
        seq = await self._sequence.reserve()
        await self._posts.insert_one({**post, "seq": seq, "outbox": outbox})

    async def get(self, post_id: ObjectId) -> dict[str, Any] | None:
        return await self._posts.find_one({"_id": post_id}, {"outbox": 0})

    async def feed(self, exclude_author: str, limit: int, cursor: str | None) -> list[Document]:
        """The newest posts not by ``exclude_author``; ``limit + 1`` to tell if more exist."""
        return await newest_first(
            self._posts,
            top=await self._sequence.current(),
            limit=limit + 1,
            cursor=cursor,
            where={"author_id": {"$ne": exclude_author}},
            projection={"outbox": 0},
        )

    async def due_events(self, limit: int, now: datetime | None = None) -> list[dict[str, Any]]:
        """Up to ``limit`` events whose claim has run out, in no order (a sort would read them
        all on the local stand-in)."""
        found = self._posts.find({DUE: {"$lte": now or utc_now()}}, {"outbox": 1}).limit(limit)
        return await found.to_list()

    async def mark_published(self, post_ids: list[ObjectId]) -> None:
        await self._update_each(
            post_ids,
            {
                "$set": {"outbox.state": PUBLISHED, "outbox.published_at": utc_now()},
                "$unset": {DUE: ""},
            },
        )

    async def release(self, post_ids: list[ObjectId]) -> None:
        """Make pending events due now (their publish failed: no need to wait out the claim)."""
        await self._update_each(post_ids, {"$set": {DUE: utc_now()}}, {DUE: {"$exists": True}})

    async def _update_each(
        self, post_ids: list[ObjectId], update: Document, where: Document | None = None
    ) -> None:
        """One point update by ``_id`` per post, sent as one unordered bulk write. (An
        ``{"_id": {"$in": ids}}`` filter costs the local stand-in a scan of the list per
        document, quadratic in the batch.)"""
        await self._posts.bulk_write(
            [UpdateOne({"_id": post_id, **(where or {})}, update) for post_id in post_ids],
            ordered=False,
        )

    async def mark_failed(self, post_id: ObjectId, reason: str) -> None:
        """Take an event that can never be published out of the sweep (kept for inspection)."""
        await self._posts.update_one(
            {"_id": post_id},
            {"$set": {"outbox.state": FAILED, "outbox.error": reason}, "$unset": {DUE: ""}},
        )

    async def count_pending(self) -> int:
        """Events not yet published; reads the sparse index, so it costs what is pending."""
        return await self._posts.count_documents({DUE: {"$exists": True}})

    async def hold_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease ``name`` for ``holder``; False while another holds it.

        One point operation: the filter matches a free, expired or own lease; otherwise the
        upsert collides with the existing ``_id`` and the lease is someone else's.
        """
        now = utc_now()
        try:
            await self._leases.find_one_and_update(
                {"_id": name, "$or": [{"holder": holder}, {"until": {"$lt": now}}]},
                {"$set": {"holder": holder, "until": now + ttl}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False
        return True

    async def release_lease(self, name: str, holder: str) -> None:
        await self._leases.delete_one({"_id": name, "holder": holder})
