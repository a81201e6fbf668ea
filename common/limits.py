"""Per-user limits that every replica of a service shares: a burst, then a steady rate.

Each (limit, key) is one document in the service's own database holding the moment its bucket
is full again (the "theoretical arrival time" of the generic cell rate algorithm). Taking is ONE
point operation, an upsert by ``_id`` whose update pipeline moves that moment on only if the
taking is allowed; the document as it was before tells the caller which way it went, with the
same arithmetic. Replicas therefore share one bucket, and adding replicas does not multiply it.
A full bucket needs no document: each service deletes those whose moment has passed, every
minute (``limits_expiry``, common/expiry.py).
"""

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from common.clock import utc_now
from common.errors import ResponsesDoc, RetryLater, retry_later
from common.expiry import Expiry
from common.mongo import Collection, Database, Document, unjournaled

FULL_AT = "full_at"


class Limited(RetryLater):
    """Refused by a limit: ``429`` with ``Retry-After``."""

    status = 429


def too_many(description: str) -> ResponsesDoc:
    """The ``429`` of an operation behind a limit, for its route's ``responses``."""
    return retry_later(Limited.status, description)


@dataclass(frozen=True)
class Rate:
    """``burst`` at once, then one more every ``interval``."""

    burst: int
    interval: timedelta

    @property
    def tolerance(self) -> timedelta:
        """How far ahead of now the full-again moment may be and one more still be allowed
        (in whole milliseconds, as MongoDB computes it)."""
        return timedelta(milliseconds=_ms(self.interval * (self.burst - 1)))


def wait_before_next(full_at: datetime | None, now: datetime, rate: Rate) -> timedelta:
    """How long from ``now`` until one more is allowed, given the moment the bucket is full
    again (``None``: no document, a full bucket); zero or less means allowed now."""
    start = max(full_at, now) if full_at is not None else now
    return start - now - rate.tolerance


class RateLimit:
    """The limit ``name`` in ``collection`` (several limits may share one collection)."""

    def __init__(self, collection: Collection, name: str, rate: Rate, message: str) -> None:
        self._limits = unjournaled(collection)  # a bucket lost to a crash is a full one
        self.name = name
        self.rate = rate
        self._message = message
        self._interval_ms = _ms(rate.interval)

    async def create_indexes(self) -> None:
        await Expiry(self._limits, FULL_AT).create_index("full_again")

    async def take(self, key: str) -> None:
        """Take one for ``key``, or raise ``Limited`` (and take nothing) when none is left."""
        now = utc_now()
        # wait_before_next(), in the update: a missing or past moment counts as now.
        start = {"$max": ["$full_at", now]}
        allowed = {"$lte": [{"$subtract": [start, now]}, _ms(self.rate.tolerance)]}
        moved_on = {"$cond": [allowed, {"$add": [start, self._interval_ms]}, "$full_at"]}
        upsert = functools.partial(
            self._limits.find_one_and_update,
            {"_id": self._id(key)},
            [{"$set": {"full_at": moved_on}}],
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        try:
            before = await upsert()
        except DuplicateKeyError:  # a concurrent first take inserted it: this one updates it
            before = await upsert()
        self._check(before, now)

    async def check(self, key: str) -> None:
        """Raise ``Limited`` if a ``take`` now would be refused, taking nothing (a point read)."""
        self._check(await self._limits.find_one({"_id": self._id(key)}), utc_now())

    def _check(self, doc: Document | None, now: datetime) -> None:
        wait = wait_before_next(doc["full_at"] if doc else None, now, self.rate)
        if wait > timedelta(0):
            raise Limited(self._message, wait)

    def _id(self, key: str) -> str:
        return f"{self.name}:{key}"


def limits_expiry(db: Database) -> Expiry:
    """Deletes the full buckets of every limit of the service; run it with the service."""
    return Expiry(db["limits"], FULL_AT)


async def open_rate_limit(db: Database, name: str, rate: Rate, message: str) -> RateLimit:
    """The limit ``name`` in the service's ``limits`` collection, with its index."""
    limit = RateLimit(db["limits"], name, rate, message)
    await limit.create_indexes()
    return limit


def _ms(duration: timedelta) -> int:
    return round(duration.total_seconds() * 1000)
