"""Expired documents are deleted by the service that owns them (common/expiry.py), against the
real store: only what is past goes, a database made with a TTL index is taken over, and the
running part deletes on its own."""

from datetime import timedelta

from common.clock import utc_now
from common.components import running
from common.expiry import Expiry
from tests.support.polling import eventually

HOUR = timedelta(hours=1)


async def test_only_what_has_expired_is_deleted(db):
    leases, now = db["leases_of_test"], utc_now()
    await leases.insert_many(
        [{"_id": "gone", "until": now - HOUR}, {"_id": "live", "until": now + HOUR}, {"_id": "x"}]
    )
    expiry = Expiry(leases, "until")
    await expiry.create_index("expired")

    assert await expiry.delete_expired() == 1
    assert {d["_id"] async for d in leases.find()} == {"live", "x"}
    assert await expiry.delete_expired() == 0  # another replica's round finds nothing


async def test_a_ttl_index_of_an_earlier_version_is_replaced(db):
    buckets = db["limits"]
    await buckets.create_index("full_at", expireAfterSeconds=0, name="full_again")
    expiry = Expiry(buckets, "full_at")

    await expiry.create_index("full_again")
    await expiry.create_index("full_again")  # every replica at its start: no conflict

    index = (await buckets.index_information())["full_again"]
    assert index["key"] == [("full_at", 1)]
    assert "expireAfterSeconds" not in index


async def test_running_it_deletes_every_round(db):
    leases = db["leases_of_test"]
    expiry = Expiry(leases, "until", every=timedelta(seconds=0.1))
    await expiry.create_index("expired")
    async with running(expiry):
        await leases.insert_one({"until": utc_now() - HOUR})

        async def emptied() -> bool:
            return await leases.count_documents({}) == 0

        await eventually(emptied)
