"""Deleting documents whose moment has passed: one index range, every minute, by the owner.

A rate limit's bucket (common/limits.py) and a stream's lease (notification_service/streams.py)
are worth nothing once their date has passed, and nothing reads them then: deleting them only
keeps the collection the size of what is live. MongoDB's TTL index would do it, and once did
here; each service now does it itself, for what the TTL monitor cost the local stand-in
(secantusdb 0.7.0b3), measured (README, "the slow window"):

- its sweeper scans every document of every TTL-indexed collection each minute under the
  store's one lock, and parks between sweeps with a WiredTiger cursor still positioned, which
  holds a read snapshot for up to 60 s. Under load, WiredTiger then cannot drop the old versions
  of a much-updated document (the feed's counter, a busy author's bucket), fails to evict its
  page thousands of times a second, and every write waits: 31 stalled seconds in one bench run,
  4 with the sweep every second;
- its interval cannot be set (the CLI drops ``ttl_sweep_seconds``).

What replaces it is what the TTL monitor does, as a query both stores answer by an index range:
``delete_many({field: {"$lt": now}})``. Every replica runs it; a second one in the same minute
finds nothing, so several replicas need no coordination.
"""

import asyncio
from datetime import timedelta

import structlog
from pymongo import ASCENDING
from pymongo.errors import OperationFailure, PyMongoError

from common.clock import utc_now
from common.mongo import Collection, unjournaled
from common.tasks import BackgroundTasks

log = structlog.get_logger(__name__)

EVERY = timedelta(seconds=60)  # the TTL monitor's own cadence
INDEX_NOT_FOUND = 27


class Expiry:
    """Deletes the documents of ``collection`` whose ``field`` (a date) is past, every ``every``
    while started."""

    def __init__(self, collection: Collection, field: str, every: timedelta = EVERY) -> None:
        self._docs = unjournaled(collection)  # a delete lost to a crash is done the next round
        self._field = field
        self._every = every
        self._tasks = BackgroundTasks(f"expiry-{field}")

    async def create_index(self, name: str) -> None:
        """The index the deletes range over, in place of a TTL index of the same key that an
        earlier version made (one name per key pattern: the TTL index must go first)."""
        for old, spec in (await self._docs.index_information()).items():
            if spec["key"] == [(self._field, ASCENDING)] and "expireAfterSeconds" in spec:
                try:
                    await self._docs.drop_index(old)
                except OperationFailure as exc:  # another replica dropped it first
                    if exc.code != INDEX_NOT_FOUND:
                        raise
        await self._docs.create_index(self._field, name=name)

    async def delete_expired(self) -> int:
        """Delete what has expired; how many."""
        done = await self._docs.delete_many({self._field: {"$lt": utc_now()}})
        return done.deleted_count

    def start(self) -> None:
        self._tasks.start(self._forever(), "delete")

    async def stop(self) -> None:
        await self._tasks.stop()

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self._every.total_seconds())
            try:
                await self.delete_expired()
            except PyMongoError as exc:  # the next round deletes it all the same
                log.warning("expired documents not deleted", field=self._field, error=repr(exc))
