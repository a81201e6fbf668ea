"""A lease: a named right that one holder has until it expires (one sweeper across replicas)."""

import os
import socket
from datetime import timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from common.clock import utc_now
from common.mongo import Collection, unjournaled


class Lease:
    """The lease ``name`` in ``collection`` (one document per lease), taken by this object:
    each one is a holder of its own (host, process and object), even within one process."""

    def __init__(self, collection: Collection, name: str) -> None:
        self._leases = unjournaled(collection)  # a lease lost to a crash is a free one
        self.name = name
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    async def hold(self, ttl: timedelta) -> bool:
        """Take or renew the lease for ``ttl``; False while another holder has it.

        One point operation: the filter matches a free, expired or own lease; otherwise the
        upsert collides with the existing ``_id`` and the lease is someone else's.
        """
        now = utc_now()
        try:
            await self._leases.find_one_and_update(
                {"_id": self.name, "$or": [{"holder": self.holder}, {"until": {"$lt": now}}]},
                {"$set": {"holder": self.holder, "until": now + ttl}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False
        return True

    async def release(self) -> None:
        await self._leases.delete_one({"_id": self.name, "holder": self.holder})
