"""Newest-first pages over a per-collection sequence number, each read a bounded index range.

Every listed document carries ``seq``, a number from a counter document (one point update per
reservation), so "the newest N" is the index range ``(top - w, top]`` for a small ``w``: the read
costs the same at a thousand documents as at a million, on MongoDB and on the local stand-in
(whose cost grows with what a query's range covers, not with its ``limit``; see
../shared/COMPONENTS.md). ``sort().limit()`` over a whole collection, or ``$ne`` without a range,
would grow with the collection.

A cursor is the ``seq`` of the last item of a page, opaque to clients (base64url). Keyset pages
stay correct while new items arrive (no skipped or repeated items, unlike offsets).
"""

import asyncio
import base64
import re
from typing import Annotated, Any

from fastapi import Query
from pymongo import ReturnDocument

from common.mongo import Collection, Database, Document, unjournaled

Limit = Annotated[int, Query(ge=1, le=100, description="Items per page")]

SEQ_INDEX = [("seq", -1)]
_MAX_CURSOR_CHARS = 32

# Exactly what ``encode_cursor`` writes: unpadded base64url of ASCII digits. A digit is the bits
# 0011 and then 0000 to 1001, so each place of a 4-character group admits only a few letters
# (three digits: 0011xx|xx0011|yyyy00|11zzzz). Stated as a pattern, the OpenAPI documents say
# which strings are cursors, and the check refuses exactly the others.
_DIGIT_HEAD = "(?:[MN][DTjz]|O[DT])"  # 12 bits: a digit, then the 0011 of the next one
_ONE_DIGIT = "(?:[MN][AQgw]|O[AQ])"  # 12 bits: the last digit, then zero padding
CURSOR_PATTERN = (
    rf"^(?:{_DIGIT_HEAD}[AEIMQUYcgk][w-z0-5])*(?:{_DIGIT_HEAD}[AEIMQUYcgk]|{_ONE_DIGIT})?$"
)
_CURSOR = re.compile(CURSOR_PATTERN)


class InvalidCursor(ValueError):
    pass


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(str(seq).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The position in a cursor; ``None`` for no cursor (an empty one included)."""
    if not cursor:
        return None
    if len(cursor) > _MAX_CURSOR_CHARS or not _CURSOR.match(cursor):
        raise InvalidCursor("malformed cursor")
    return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


# The ``cursor`` query parameter, checked where it is read (its pattern and length are
# decode_cursor's rules), so a malformed one is a 422 in the same shape as every other invalid
# field: ``{"detail": [{"loc": ["query", "cursor"], ...}]}``.
Cursor = Annotated[
    str | None,
    Query(
        description="The `next_cursor` of the page before; absent or empty for the first page",
        max_length=_MAX_CURSOR_CHARS,
        pattern=CURSOR_PATTERN,
    ),
]


def next_cursor(docs: list[Document], limit: int) -> str | None:
    """The cursor after a page fetched with ``limit + 1``: ``None`` when it was the last page."""
    return encode_cursor(docs[limit - 1]["seq"]) if len(docs) > limit else None


class Sequence:
    """Numbers in creation order from one counter document (``counters`` collection).

    Reserving is a single atomic ``$inc`` by ``_id``, safe from any number of replicas. A number
    reserved by a write that then fails is simply never used: pages tolerate gaps.
    """

    def __init__(self, db: Database, name: str) -> None:
        # Persisted by the journaled write that uses the number (one journal, in order).
        self._counters = unjournaled(db["counters"])
        self._name = name
        self._waiting: list[asyncio.Future[int]] = []
        self._reserving: asyncio.Task[None] | None = None

    async def create(self) -> None:
        await self._counters.update_one(
            {"_id": self._name}, {"$setOnInsert": {"value": 0}}, upsert=True
        )

    async def reserve(self, count: int = 1) -> int:
        """Reserve ``count`` numbers; returns the last (the block ends there)."""
        counter = await self._counters.find_one_and_update(
            {"_id": self._name}, {"$inc": {"value": count}}, return_document=ReturnDocument.AFTER
        )
        if counter is None:
            raise LookupError(f"sequence {self._name!r} was not created")
        return int(counter["value"])

    async def next(self) -> int:
        """One number, for one write. The callers of one process share reservations: while one
        ``$inc`` is on its way, the numbers asked for meanwhile wait, and the next ``$inc``
        reserves them all (at 100 posts/s that is one write for several posts, not one each).
        A caller cancelled while it waits leaves a gap."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[int] = loop.create_future()
        self._waiting.append(waiter)
        reserving = self._reserving
        if reserving is None or reserving.done() or reserving.get_loop() is not loop:
            self._reserving = loop.create_task(self._reserve_waiting())
        return await waiter

    async def _reserve_waiting(self) -> None:
        while waiters := self._waiting:
            self._waiting = []
            try:
                last = await self.reserve(len(waiters))
            except Exception as exc:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
                continue
            for number, waiter in enumerate(waiters, start=last - len(waiters) + 1):
                if not waiter.done():
                    waiter.set_result(number)

    async def current(self) -> int:
        counter = await self._counters.find_one({"_id": self._name})
        return int(counter["value"]) if counter else 0


async def newest_first(
    collection: Collection,
    *,
    top: int,
    limit: int,
    cursor: str | None = None,
    floor: int = 0,
    where: dict[str, Any] | None = None,
    projection: dict[str, Any] | None = None,
) -> list[Document]:
    """Up to ``limit`` documents matching ``where``, by ``seq`` descending, below the cursor and
    above ``floor``.

    Reads windows ``(hi - w, hi]`` going back from ``top``, each twice as wide as the last, until
    ``limit`` documents are found or ``seq`` 1 is passed: a page costs a few small index ranges
    when matches are dense (the usual case) and ``O(log top)`` of them when they are sparse.
    """
    below = decode_cursor(cursor)
    hi = top if below is None else min(top, below - 1)
    width = 2 * limit
    found: list[Document] = []
    while hi > floor and len(found) < limit:
        lo = max(floor, hi - width)
        # ``seq`` first: the local stand-in serves a query by its first indexed clause.
        query = {"seq": {"$gt": lo, "$lte": hi}, **(where or {})}
        window = collection.find(query, projection).sort(SEQ_INDEX).limit(limit - len(found))
        found.extend(await window.to_list())
        hi, width = lo, width * 2
    return found
