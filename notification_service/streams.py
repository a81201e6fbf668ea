"""Open notification streams per user, counted across every replica.

Each open stream is a document ``{user_id, until}`` in this service's database, held by the
replica serving it: opening inserts it and counts the user's live ones (an index range over
``(user_id, until)``, at most ``per_user + 1`` long), and refuses, removing it again, past
``per_user``; closing deletes it. A replica renews the leases of its streams every third of
``lease`` in one bulk write of point updates, so the streams of a replica that was killed stop
counting within ``lease``, and every replica deletes the documents of lapsed leases each minute
(common/expiry.py).

Two streams opened at once may both see the other and both be refused: never too many.
"""

import asyncio
import contextlib
from datetime import timedelta

import anyio
import structlog
from bson import ObjectId
from pymongo import ASCENDING, UpdateOne
from pymongo.errors import PyMongoError

from common.clock import utc_now
from common.expiry import Expiry
from common.limits import Limited
from common.mongo import Collection, unjournaled
from common.tasks import BackgroundTasks

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=60)
# What a refused client is told to wait: a stream of the same user may end at any moment.
RETRY_AFTER = timedelta(seconds=30)


class OpenStreams:
    """The streams open on this replica, and the count of each user's streams on all of them."""

    def __init__(self, collection: Collection, per_user: int, lease: timedelta = LEASE) -> None:
        self._streams = unjournaled(collection)  # a lease lost to a crash: one stream uncounted
        self.per_user = per_user
        self._lease = lease
        self._held: set[ObjectId] = set()
        self._tasks = BackgroundTasks("streams")
        self._expiry = Expiry(collection, "until")

    async def create_indexes(self) -> None:
        await self._streams.create_index(
            [("user_id", ASCENDING), ("until", ASCENDING)], name="by_user_until"
        )
        await self._expiry.create_index("expired")

    async def open(self, user_id: str) -> ObjectId:
        """Count a new stream of ``user_id``; ``Limited`` if they hold ``per_user`` already."""
        now, stream_id = utc_now(), ObjectId()
        await self._streams.insert_one(
            {"_id": stream_id, "user_id": user_id, "until": now + self._lease}
        )
        self._held.add(stream_id)
        held = await self._streams.count_documents(
            {"user_id": user_id, "until": {"$gt": now}}, limit=self.per_user + 1
        )
        if held > self.per_user:
            await self.close(stream_id)
            raise Limited(
                f"you have {self.per_user} notification streams open already", RETRY_AFTER
            )
        return stream_id

    async def close(self, stream_id: ObjectId) -> None:
        """Stop counting the stream (if the delete fails, its lease lapses). Shielded: a stream
        ends by being cancelled when its client goes away, and must still stop counting."""
        self._held.discard(stream_id)
        with anyio.CancelScope(shield=True), contextlib.suppress(PyMongoError):
            await self._streams.delete_one({"_id": stream_id})

    async def renew(self) -> None:
        """Extend the lease of every stream open on this replica."""
        if not self._held:
            return
        until = utc_now() + self._lease
        await self._streams.bulk_write(
            [UpdateOne({"_id": i}, {"$set": {"until": until}}) for i in self._held],
            ordered=False,
        )

    def start(self) -> None:
        self._tasks.start(self._renew_forever(), "renew")
        self._expiry.start()

    async def stop(self) -> None:
        await self._expiry.stop()
        await self._tasks.stop()

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            try:
                await self.renew()
            except PyMongoError as exc:  # the next round tries again, well within the lease
                log.warning("stream leases not renewed", error=repr(exc))
