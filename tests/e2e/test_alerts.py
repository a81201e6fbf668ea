"""The alert rules against the real system: Prometheus (Debian's, with `make run`'s config and
the committed deploy/prometheus/rules.yml) scraping a stack of its own and the run's RabbitMQ
node. Stopping the notification service while posts go on makes the consumer-lag and backlog
alerts fire; starting it again clears them.

Prometheus scrapes and evaluates every second here (production: 15 s); the rules' `for:` and
windows are the committed ones, so this takes about two minutes.
"""

import json
import time
import uuid

import httpx
import pytest

from devstack.processes import start_prometheus, wait_until
from devstack.prometheus import Queues
from services import HTTP_SERVICES
from tests.conftest import system
from tests.support.users import User

JOBS = {*(service.name for service in HTTP_SERVICES), "rabbitmq", "prometheus"}
# What a stopped consumer sets off: events wait, nobody handles them, its replica is not there.
WHILE_STOPPED = {"ConsumerLagging", "EventsQueueBacklog"}
# EventsQueueBacklog's threshold is 100 ready events.
POSTS = 120


@pytest.fixture(scope="module")
def watched(mongo_url, s3, rabbit, keys, tmp_path_factory, run_id):
    """A stack with its cleaner, and a Prometheus watching it; both stopped after the module."""
    with system("alerts", {}, mongo_url, s3, rabbit, keys, tmp_path_factory, run_id) as stack:
        stack.start_cleaner(max_age=3600, interval=3600)  # its queue has a consumer: all quiet
        upstreams = {
            s.name: [stack.urls[key].removeprefix("http://") for key in stack.replicas(s.name)]
            for s in HTTP_SERVICES
        }
        proc, url = start_prometheus(
            f"{stack.name}-prometheus",
            tmp_path_factory.mktemp("prometheus"),
            upstreams=upstreams,
            rabbitmq=rabbit.metrics_address,
            queues=Queues(stack.env["NOTIFICATION_QUEUE"], stack.env["CLEANER_QUEUE"]),
        )
        try:
            yield stack, url
        finally:
            proc.stop()


def api(prometheus: str, path: str) -> dict:
    answer = httpx.get(f"{prometheus}/api/v1/{path}", timeout=5)
    answer.raise_for_status()
    body: dict = answer.json()["data"]
    return body


def every_target_up(prometheus: str) -> list[dict] | None:
    targets = api(prometheus, "targets")["activeTargets"]
    return targets if targets and all(t["health"] == "up" for t in targets) else None


def active_alerts(prometheus: str) -> list[dict]:
    """The alerts pending or firing now, each also printed (with when it became active)."""
    alerts: list[dict] = api(prometheus, "alerts")["alerts"]
    for alert in alerts:
        print(time.strftime("%H:%M:%S"), json.dumps(alert, sort_keys=True))
    return alerts


def firing(alerts: list[dict]) -> set[str]:
    return {alert["labels"]["alertname"] for alert in alerts if alert["state"] == "firing"}


def test_a_stopped_consumer_fires_lag_and_backlog_alerts_which_clear_once_it_is_back(watched):
    stack, prometheus = watched
    targets = wait_until(lambda: every_target_up(prometheus), 30, "every target up", every=0.5)
    assert {target["labels"]["job"] for target in targets} == JOBS
    assert len(targets) == len(JOBS)  # one replica of each service here
    assert not active_alerts(prometheus), "a healthy stack raises no alert"

    port = int(stack.urls["notification"].rsplit(":", 1)[1])
    stack.stop_service("notification")
    user = User(stack.gateway, f"alerts-{uuid.uuid4().hex[:8]}@example.com")
    user.sign_up()
    user.sign_in()
    for number in range(POSTS):
        user.post(f"posted while nobody consumes, {number}")

    wait_until(
        lambda: firing(active_alerts(prometheus)) >= WHILE_STOPPED,
        120,
        f"{sorted(WHILE_STOPPED)} firing",
        every=2,
    )
    down = [a for a in active_alerts(prometheus) if a["labels"]["alertname"] == "ReplicaDown"]
    assert [a["labels"]["job"] for a in down] == ["notification"], "only its replica is down"

    # Back where Prometheus and the gateway look for it: the waiting events are handled.
    stack.start_service("notification", port=port)
    wait_until(lambda: not active_alerts(prometheus), 150, "every alert cleared", every=2)
