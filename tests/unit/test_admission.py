"""Load shedding (common/admission.py): a place at work, or a refusal once the wait is over."""

import asyncio
from datetime import timedelta

import pytest

from common.admission import Admission, Overloaded, busy


async def hold_places(
    admission: Admission, count: int, release: asyncio.Event
) -> list[asyncio.Task[None]]:
    """``count`` requests at work until ``release`` is set."""

    async def at_work() -> None:
        async with admission.slot():
            await release.wait()

    workers = [asyncio.create_task(at_work()) for _ in range(count)]
    await asyncio.sleep(0)  # each has taken its place
    return workers


async def test_past_its_limit_a_request_that_waited_max_wait_is_refused():
    admission = Admission("test", limit=2, max_wait=timedelta(milliseconds=50))
    release = asyncio.Event()
    workers = await hold_places(admission, 2, release)
    with pytest.raises(Overloaded) as refused:
        async with admission.slot():
            pytest.fail("admitted past the limit")
    assert refused.value.retry_after_seconds == 1
    assert "busy" in refused.value.message
    release.set()
    await asyncio.gather(*workers)


async def test_a_request_within_max_wait_gets_the_place_that_comes_free():
    admission = Admission("test", limit=1, max_wait=timedelta(seconds=30))
    release, admitted = asyncio.Event(), asyncio.Event()
    workers = await hold_places(admission, 1, release)

    async def next_one() -> None:
        async with admission.slot():
            admitted.set()

    waiting = asyncio.create_task(next_one())
    await asyncio.sleep(0.01)
    assert not admitted.is_set()  # it waits its turn
    release.set()
    await asyncio.wait_for(asyncio.gather(*workers, waiting), 10)
    assert admitted.is_set()


async def test_past_a_full_waiting_room_a_request_is_refused_at_once():
    admission = Admission("test", limit=2, max_wait=timedelta(seconds=30))
    release = asyncio.Event()
    workers = await hold_places(admission, 2, release)
    waiters = await hold_places(admission, 4, release)  # the waiting room: twice those at work
    started = asyncio.get_running_loop().time()
    with pytest.raises(Overloaded):
        async with admission.slot():
            pytest.fail("admitted past the limit and the waiting room")
    assert asyncio.get_running_loop().time() - started < 1  # not after max_wait
    release.set()
    await asyncio.wait_for(asyncio.gather(*workers, *waiters), 10)  # the waiters got in


async def test_a_refused_request_takes_no_place():
    admission = Admission("test", limit=1, max_wait=timedelta(0))
    async with admission.slot():
        for _ in range(3):
            with pytest.raises(Overloaded):
                async with admission.slot():
                    pass
    async with admission.slot():  # the one place is free again
        pass


def test_the_503_is_documented_with_its_retry_after_header():
    documented = busy("busy")[503]
    assert documented["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
