"""How a refusal by a limit (common/limits.py) is answered: 429, Retry-After, a message."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from common.limits import Limited, Rate, too_many, wait_before_next
from tests.unit.test_service import probe_app


@pytest.mark.parametrize(
    ("wait", "header"),
    [(timedelta(milliseconds=1), 1), (timedelta(seconds=1), 1), (timedelta(seconds=1.2), 2)],
)
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(wait, header):
    assert Limited("no", wait).retry_after_seconds == header


def test_the_429_is_documented_with_its_retry_after_header():
    documented = too_many("slow down")[429]
    assert documented["description"] == "slow down"
    assert documented["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RATE = Rate(burst=3, interval=timedelta(seconds=10))


@pytest.mark.parametrize(
    ("full_at", "allowed"),
    [
        (None, True),  # no document: a full bucket
        (NOW - timedelta(hours=1), True),  # full again long ago (its TTL has not run yet)
        (NOW + timedelta(seconds=20), True),  # two taken: the third of the burst is left
        (NOW + timedelta(seconds=21), False),  # ... not quite
        (NOW + timedelta(seconds=30), False),  # the burst is spent
    ],
)
def test_a_burst_is_allowed_then_one_more_per_interval(full_at, allowed):
    assert (wait_before_next(full_at, NOW, RATE) <= timedelta(0)) is allowed


def test_the_wait_once_the_burst_is_spent_is_at_most_one_interval():
    spent = NOW + RATE.interval * RATE.burst
    assert wait_before_next(spent, NOW, RATE) == RATE.interval
    assert wait_before_next(spent, NOW + timedelta(seconds=4), RATE) == timedelta(seconds=6)


async def test_a_limited_request_is_a_429_with_retry_after_and_the_message():
    app = probe_app()

    @app.post("/api/limited")
    async def limited() -> None:
        raise Limited("you are posting too fast", timedelta(seconds=4.5))

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/api/limited")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "5"
    assert answer.json() == {"detail": "you are posting too fast"}
