"""Failures on purpose: the broker or the consumer goes away, and nothing is lost or doubled.

These tests stop and start servers, so they run against a RabbitMQ node of their own.
"""

import httpx
import pytest

from devstack.processes import wait_until


@pytest.fixture
def author(system, issuer):
    def create(text: str) -> str:
        token = issuer.mint("alice", "alice@example.com")
        answer = httpx.post(
            f"{system.urls['post']}/api/post",
            json={"text": text},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    return create


@pytest.fixture
def reader(system, issuer):
    """The post ids of every notification bob sees, one entry per notification."""

    def notified() -> list[str]:
        token = issuer.mint("bob", "bob@example.com")
        answer = httpx.get(
            f"{system.urls['notification']}/api/notification?limit=100",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return [n["post_id"] for n in answer.json()["items"]]

    return notified


def test_posts_made_while_the_broker_is_down_are_all_notified_exactly_once(
    system, broker, author, reader
):
    before = [author(f"before outage {i}") for i in range(3)]
    wait_until(lambda: set(before) <= set(reader()), 15, "notifications before the outage")

    broker.stop()
    during = [author(f"during outage {i}") for i in range(5)]  # accepted: they wait in the outbox
    ready = httpx.get(f"{system.urls['post']}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["checks"]["broker"] == "unavailable"

    broker.start()
    wait_until(lambda: set(during) <= set(reader()), 60, "notifications of posts made offline")
    seen = reader()
    assert sorted(seen) == sorted(set(seen)), "a notification was doubled"
    assert set(before + during) <= set(seen)


def test_backlog_is_consumed_when_the_notification_service_comes_back(
    system, broker, author, reader
):
    queue = system.env["NOTIFICATION_QUEUE"]
    system.stop_service("notification")
    backlog = [author(f"while the consumer is away {i}") for i in range(5)]
    wait_until(
        lambda: broker.queue_depth(queue) == len(backlog), 15, "the backlog waiting in the queue"
    )

    system.start_service("notification")
    wait_until(lambda: set(backlog) <= set(reader()), 30, "the backlog consumed")
    wait_until(lambda: broker.queue_depth(queue) == 0, 15, "the queue drained")
    seen = reader()
    assert sorted(seen) == sorted(set(seen))
