"""Everything post_service keeps in MongoDB: posts, each with the events announcing it.

A post and its events are written in ONE document insert (common/outbox.py), so there is never
a post without its event or an event without its post.
"""

from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING

from common.events import Event
from common.mongo import Database, Document
from common.outbox import Outbox
from common.pagination import SEQ_INDEX, Sequence, newest_first

NO_OUTBOX = {"outbox": 0}
REQUEST = "request"  # "<author id>:<Idempotency-Key>", on posts whose request carried one


class PostStore:
    def __init__(self, db: Database) -> None:
        self._posts = db["posts"]
        self._sequence = Sequence(db, "posts")
        self.outbox = Outbox(self._posts)

    async def create_indexes(self) -> None:
        await self._sequence.create()
        await self._posts.create_index(SEQ_INDEX, name="by_seq")
        # A request sent again with its Idempotency-Key finds the post it made the first time.
        await self._posts.create_index(
            [(REQUEST, ASCENDING)], name="request_unique", unique=True, sparse=True
        )
        await self.outbox.create_indexes()

    async def insert(
        self,
        post: Document,
        events: list[Event],
        correlation: str | None,
        claim_timeout: timedelta,
    ) -> None:
        """Store the post, numbered in the feed's order, with its pending events, claimed by the
        caller for ``claim_timeout`` (the caller's relay publishes them right away)."""
        seq = await self._sequence.next()
        outbox = self.outbox.fields(events, correlation, claim_timeout, post["created_at"])
        await self._posts.insert_one({**post, "seq": seq, **outbox})

    async def get(self, post_id: ObjectId) -> dict[str, Any] | None:
        return await self._posts.find_one({"_id": post_id}, NO_OUTBOX)

    async def made_by_request(self, request: str) -> dict[str, Any] | None:
        """The post a request with this key made (an index lookup)."""
        return await self._posts.find_one({REQUEST: request}, NO_OUTBOX)

    async def feed(self, exclude_author: str, limit: int, cursor: str | None) -> list[Document]:
        """The newest posts not by ``exclude_author``; ``limit + 1`` to tell if more exist."""
        return await newest_first(
            self._posts,
            top=await self._sequence.current(),
            limit=limit + 1,
            cursor=cursor,
            where={"author_id": {"$ne": exclude_author}},
            projection=NO_OUTBOX,
        )
