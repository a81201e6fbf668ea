"""The one way every service opens MongoDB, and the types its stores use."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import stamina
from bson import ObjectId
from fastapi import FastAPI
from pymongo import AsyncMongoClient, WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure

from common.settings import ServiceSettings

Document = dict[str, Any]
Client = AsyncMongoClient[Document]
Database = AsyncDatabase[Document]
Collection = AsyncCollection[Document]


def connect_mongo(url: str) -> Client:
    """A client for this event loop; datetimes come back timezone-aware (UTC).

    Every write waits for the journal and, on a replica set, for a majority (``w=majority``,
    ``j=true``): a write that MongoDB acknowledged survives the server being killed the moment
    after, and a failover. (``w=1`` alone acknowledges before the journal is on disk: up to
    100 ms of acknowledged writes lost to a crash.) A URL's own options are overridden.

    A pooled connection idle for a minute is closed rather than used again: servers and the
    network between drop idle connections (the local stand-in after 300 s, as do many load
    balancers and NATs), and a write on a dropped one fails (writes are not retried here).
    """
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=3000,
        maxIdleTimeMS=60_000,
        appname="soflite",
        w="majority",
        journal=True,
    )


def unjournaled(collection: Collection) -> Collection:
    """``collection`` for writes that a crash may lose without harm, acknowledged before the
    journal is on disk (``j=false``): a limit's bucket, a lease, a sequence reservation, an
    outbox mark (lost, the event is published again, and consumers are idempotent).

    On a replica set this changes nothing (``w=majority`` is journaled by default there). On a
    single server, and the local stand-in is one, ``j=true`` syncs the journal to disk at every
    write: the post and the notification writes keep it, so what was acknowledged to a person
    survives a crash, and the sync of each also persists every write before it (one journal, in
    order), the reservations among them.
    """
    return collection.with_options(write_concern=WriteConcern(w="majority", j=False))


async def ping(client: Client) -> None:
    await client.admin.command("ping")


async def wait_for_mongo(client: Client, timeout: float = 60.0) -> None:
    """Wait until the server answers, so a service may start beside its database."""
    async for attempt in stamina.retry_context(
        on=ConnectionFailure, attempts=None, timeout=timeout
    ):
        with attempt:
            await ping(client)


async def open_database(url: str, name: str) -> tuple[Client, Database]:
    """A service's start-up: connect, wait for the server, and hand back its database."""
    client = connect_mongo(url)
    await wait_for_mongo(client)
    return client, client[name]


@asynccontextmanager
async def service_database(app: FastAPI, settings: ServiceSettings) -> AsyncIterator[Database]:
    """The service's own database for the block; the client is ``app.state.mongo`` (readiness)."""
    app.state.mongo, db = await open_database(settings.mongo_url, settings.mongo_db)
    try:
        yield db
    finally:
        await app.state.mongo.close()


def parse_object_id(value: str) -> ObjectId | None:
    """The ObjectId in a path parameter, or ``None`` when it is not one (the caller answers 404)."""
    return ObjectId(value) if ObjectId.is_valid(value) else None
