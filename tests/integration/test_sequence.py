"""The sequence that numbers posts and notifications, against the real store: concurrent callers
of one process share reservations, and every number goes to one caller only, whichever replica
asks."""

import asyncio

from common.pagination import Sequence


class Counted(Sequence):
    """The real sequence, counting its writes to the counter."""

    reservations = 0

    async def reserve(self, count: int = 1) -> int:
        self.reservations += 1
        return await super().reserve(count)


async def test_concurrent_callers_share_writes_and_each_number_goes_to_one(db):
    replicas = [Counted(db, "things"), Counted(db, "things")]
    await replicas[0].create()

    numbers = await asyncio.gather(*(replicas[i % 2].next() for i in range(200)))

    assert sorted(numbers) == list(range(1, 201))  # no number twice, none skipped
    writes = sum(r.reservations for r in replicas)
    assert writes < 20, f"{writes} counter writes for 200 numbers"
    assert await replicas[1].current() == 200
    # Callers of one process are numbered in the order they asked.
    assert numbers[0:200:2] == sorted(numbers[0:200:2])


async def test_a_lone_caller_gets_the_next_number_at_once(db):
    sequence = Sequence(db, "things")
    await sequence.create()
    assert [await sequence.next() for _ in range(3)] == [1, 2, 3]


async def test_a_caller_cancelled_while_it_waits_leaves_a_gap_and_no_one_hangs(db):
    sequence = Sequence(db, "things")
    await sequence.create()
    first = asyncio.ensure_future(sequence.next())  # its reservation goes out at once
    await asyncio.sleep(0)
    cancelled, kept = asyncio.ensure_future(sequence.next()), asyncio.ensure_future(sequence.next())
    await asyncio.sleep(0)
    cancelled.cancel()

    assert await first == 1
    assert await kept == 3  # 2 was reserved for the cancelled caller
    assert cancelled.cancelled()
    assert await sequence.next() == 4


async def test_a_failed_reservation_fails_every_caller_that_waited_for_it(db):
    missing = Sequence(db, "never-created")
    results = await asyncio.gather(*(missing.next() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results), results
