"""docker-compose.yml for real: what a user of `docker compose up --build` gets, through the
published gateway only. The tests run in this order and share one stack (conftest.py); the
last one takes it down."""

import asyncio
import re
import subprocess
import uuid

import pytest

from devstack.processes import wait_until
from devstack.sse import StreamClient
from tests.support.polling import eventually
from tests.support.users import User

pytestmark = pytest.mark.timeout(1200)  # the first test waits for the images to be built

CODE = 'def greet(name):\n    return f"<b>{name}</b> & \\u00e9"\n'
POSTS_FOR_TWO_REPLICAS = 20


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"


class People:
    """The users the tests share: A posts, B reads."""

    a: User
    b: User
    first_post: dict
    first_note: dict


people = People()


def notification_of(user: User, post_id: str) -> dict | None:
    return next((n for n in user.notifications() if n["post_id"] == post_id), None)


def test_every_container_turns_healthy(compose_stack):
    # The fixture built the images and waited; this says what it took, and checks once more.
    assert not compose_stack.not_healthy()
    services = {c["Service"] for c in compose_stack.containers()}
    assert services >= {"gateway", "auth-service", "post-service", "notification-service"}
    assert services >= {"cleaner-worker", "cleaner-beat", "rabbitmq", "minio", "mongo-posts"}
    print(compose_stack.timings)


async def test_two_users_post_notify_open_read_and_stream(compose_stack):
    stack = compose_stack
    a, b = User(stack.gateway, unique_email("a")), User(stack.gateway, unique_email("b"))
    with stack.explained("gateway", "auth-service"):
        for user in (a, b):
            await asyncio.to_thread(user.sign_up)
            await asyncio.to_thread(user.sign_in)

    with stack.explained("gateway", "post-service", "minio"):
        post = await asyncio.to_thread(a.post, "Escaping in f-strings?", CODE, "python")
        assert post["code"] == CODE
        assert post["id"] in [p["id"] for p in await asyncio.to_thread(b.feed)]
        assert post["id"] not in [p["id"] for p in await asyncio.to_thread(a.feed)]

    with stack.explained("notification-service", "post-service", "rabbitmq"):
        note = await asyncio.to_thread(
            wait_until, lambda: notification_of(b, post["id"]), 30, "B notified of A's post"
        )
        assert note["read"] is False and note["author_email"] == a.email

    with stack.explained("gateway", "post-service", "notification-service"):
        opened = await asyncio.to_thread(b.http.get, f"/api/post/{note['post_id']}")
        assert opened.status_code == 200, opened.text
        assert opened.json()["code"] == CODE
        marked = await asyncio.to_thread(b.http.post, f"/api/notification/{note['id']}/read")
        assert marked.status_code == 204, marked.text
        marked_note = await asyncio.to_thread(notification_of, b, post["id"])
        assert marked_note is not None and marked_note["read"] is True

    with stack.explained("gateway", "notification-service", "post-service"):
        assert b.token
        async with StreamClient(stack.gateway, b.token) as stream:
            later = await asyncio.to_thread(a.post, "And a later one", None, None)

            async def pushed() -> bool:
                return later["id"] in stream.seen()

            await eventually(pushed, 30)
            assert stream.times_pushed()[later["id"]] == 1

    people.a, people.b, people.first_post, people.first_note = a, b, post, note


def applied_events(stack, index: int) -> float:
    """What replica `index` of notification-service counted as stored (its /metrics)."""
    metrics = stack.exec(
        "notification-service",
        index,
        "python",
        "-c",
        "import urllib.request; print(urllib.request.urlopen("
        "'http://127.0.0.1:8003/metrics', timeout=4).read().decode())",
    )
    pattern = r'^consumer_events_total\{consumer="notifications",outcome="applied"\} (\S+)$'
    match = re.search(pattern, metrics, re.M)
    return float(match[1]) if match else 0.0


def test_two_notification_replicas_share_the_queue_and_notify_once(compose_stack):
    stack, a, b = compose_stack, people.a, people.b
    with stack.explained("notification-service"):
        stack.compose("up", "--detach", "--no-recreate", "--scale", "notification-service=2")
        stack.wait_healthy()
    before = [applied_events(stack, i) for i in (1, 2)]

    with stack.explained("notification-service", "post-service", "rabbitmq"):
        posts = [a.post(f"Scaled post {n}") for n in range(POSTS_FOR_TWO_REPLICAS)]
        ids = {p["id"] for p in posts}

        def every_post_notified() -> bool:
            return ids <= {n["post_id"] for n in b.notifications(limit=100)}

        wait_until(every_post_notified, 60, "B notified of every post")
        notified = [n["post_id"] for n in b.notifications(limit=100) if n["post_id"] in ids]
        assert sorted(notified) == sorted(ids), "each post makes exactly one notification"

        def both_consumed() -> list[float]:
            gained = [applied_events(stack, i) - before[i - 1] for i in (1, 2)]
            return gained if all(g > 0 for g in gained) else []

        gained = wait_until(both_consumed, 30, "both replicas stored notifications")
        # Each event is applied once, by one replica or the other (for A's readers: B only
        # here, since notifications go to every user but the author).
        assert sum(gained) >= POSTS_FOR_TWO_REPLICAS


def test_a_replica_stopped_on_purpose_fails_no_request(compose_stack):
    # What a rolling deploy does to each replica: one of the two notification containers
    # stopped (SIGTERM, then the grace period) while posts are made and B reads its list.
    stack, a, b = compose_stack, people.a, people.b
    second = next(
        c["Name"]
        for c in stack.containers()
        if c["Service"] == "notification-service" and c["Name"].endswith("-2")
    )
    failed: list[str] = []
    ids: list[str] = []
    with stack.explained("notification-service", "gateway"):
        stopping = subprocess.Popen(["docker", "stop", second], stdout=subprocess.DEVNULL)
        while stopping.poll() is None or len(ids) < 10:
            answer = a.http.post("/api/post", json={"text": f"during a stop {len(ids)}"})
            if answer.status_code == 201:
                ids.append(answer.json()["id"])
            else:
                failed.append(f"POST {answer.status_code}")
            listed = b.http.get("/api/notification", params={"limit": 5})
            if listed.status_code != 200:
                failed.append(f"GET {listed.status_code}")
        assert stopping.returncode == 0
        assert not failed, f"requests failed while a replica stopped: {failed}"
        wait_until(
            lambda: set(ids) <= {n["post_id"] for n in b.notifications(limit=100)},
            60,
            "every post notified by the replica left",
        )
        stack.compose("up", "--detach", "--no-recreate", "--scale", "notification-service=2")
        stack.wait_healthy()


def test_data_survives_a_restart(compose_stack):
    stack, b = compose_stack, people.b
    with stack.explained():
        stack.compose("restart", timeout=300)
        stack.timings["restart to all healthy"] = stack.wait_healthy()

    with stack.explained("gateway", "auth-service", "post-service", "notification-service"):
        a = User(stack.gateway, people.a.email).sign_in()  # the user and the key pair remain
        opened = wait_until(
            lambda: b.http.get(f"/api/post/{people.first_post['id']}"), 30, "the post answers"
        )
        assert opened.status_code == 200, opened.text  # B's old token: the key pair remains
        assert opened.json()["code"] == CODE  # the snippet, from the object store's volume
        assert people.first_post["id"] in [p["id"] for p in b.feed()]
        assert people.first_post["id"] not in [p["id"] for p in a.feed()]
        note = notification_of(b, people.first_post["id"])
        assert note is not None and note["read"] is True


def test_the_cleaner_deletes_an_old_notification(compose_stack):
    stack, b = compose_stack, people.b
    assert notification_of(b, people.first_post["id"]) is not None
    # The cleaner alone restarted with a short interval and retention: every notification so
    # far is old for it.
    with stack.explained("cleaner-worker", "cleaner-beat"):
        stack.compose(
            "up",
            "--detach",
            "--no-deps",
            "cleaner-worker",
            "cleaner-beat",
            env={"CLEANER_INTERVAL": "1", "NOTIFICATION_MAX_AGE": "2"},
        )
        wait_until(
            lambda: notification_of(b, people.first_post["id"]) is None,
            60,
            "the cleaner deleted B's old notification",
            every=0.5,
        )
        assert "old notifications deleted" in stack.logs("cleaner-worker")
        stack.wait_healthy()


def test_down_removes_every_container_network_and_volume(compose_stack):
    assert all(compose_stack.resources().values()), "the stack had containers, networks, volumes"
    compose_stack.compose("down", "--volumes", "--timeout", "10")
    assert compose_stack.resources() == {"containers": [], "networks": [], "volumes": []}
