"""One trace from the request that makes a post to the push of its notification (common/tracing.py):
every process the post passes exports its spans, over OTLP, to a receiver of the test's own
(devstack/otlp.py), and they share the trace of the request and form one tree.

The request arrives through the gateway with a ``traceparent`` of the test's own, as a traced
browser would send it, so the test knows the trace id before anything is exported.
"""

import json
import secrets
import uuid
from collections import Counter

import pytest

from devstack.otlp import OtlpReceiver, ReceivedSpan, exporting_to
from devstack.processes import ARTIFACTS
from devstack.sse import StreamClient
from tests.support.polling import eventually
from tests.support.stacks import configured
from tests.support.users import User

# The spans one post makes, by the process that makes them: its request (FastAPI), its insert
# (PyMongo), the relay's publish (ours, then aio-pika's), the consumer's handling and its write,
# the announcement to every replica, and the push into the reader's stream.
EXPECTED = {
    ("post", "POST /api/post"),
    ("post", "outbox publish post.created.v1"),
    ("notification", "notifications process post.created.v1"),
    ("notification", "push process notifications.created.v1"),
    ("notification", "push"),
}


@pytest.fixture(scope="module")
def receiver():
    started = OtlpReceiver().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def traced_stack(receiver, mongo_url, s3, rabbit, keys, tmp_path_factory, run_id):
    """The whole system, tracing on, two notification replicas (the push may be on either)."""
    stack = configured("traced", mongo_url, s3, rabbit, keys, tmp_path_factory, run_id)
    stack.env.update(exporting_to(receiver.endpoint))
    try:
        yield stack.start(replicas={"notification": 2})
    finally:
        stack.stop()


def person(stack, name: str) -> User:
    user = User(stack.gateway, f"{name}-{uuid.uuid4().hex[:8]}@example.com")
    user.sign_up()
    return user.sign_in()


def tree_problems(spans: list[ReceivedSpan], root_parent: str) -> list[str]:
    """What keeps ``spans`` from being one tree under the span ``root_parent``."""
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if s.parent_id == root_parent]
    orphans = [s for s in spans if s.parent_id != root_parent and s.parent_id not in ids]
    problems = [f"{len(roots)} spans under the request's parent, not 1"] if len(roots) != 1 else []
    problems += [f"{s.service}: {s.name} has a parent that is not in the trace" for s in orphans]
    return problems


async def test_one_post_is_one_trace_from_the_request_to_the_push(traced_stack, receiver):
    alice, bob = person(traced_stack, "alice"), person(traced_stack, "bob")
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    assert bob.token is not None
    async with StreamClient(traced_stack.gateway, bob.token, reconnect=False) as stream:
        answer = alice.http.post(
            "/api/post",
            json={"text": "traced question", "code": "print('hi')", "language": "python"},
            headers={"traceparent": f"00-{trace_id}-{client_span}-01"},
        )
        assert answer.status_code == 201, answer.text
        post_id = answer.json()["id"]

        async def pushed() -> bool:
            return post_id in stream.seen()

        await eventually(pushed, timeout=20)

    async def all_exported() -> list[ReceivedSpan]:
        """Every expected span, and a push from each replica (each exports on its own time)."""
        spans = receiver.spans(trace_id)
        pushed_on = {s.instance for s in spans if s.name == "push"}
        return (
            spans
            if {(s.service, s.name) for s in spans} >= EXPECTED and len(pushed_on) == 2
            else []
        )

    try:
        spans = await eventually(all_exported, timeout=20)
    except TimeoutError:
        got = sorted({(s.service, s.name, s.instance) for s in receiver.spans(trace_id)})
        pytest.fail(f"spans of the trace (a push from each of 2 replicas expected): {got}")
    # The write of each process is in the trace too (PyMongo's spans).
    by_service = Counter(s.service for s in spans if s.attributes.get("db.system") == "mongodb")
    assert by_service["post"] >= 1 and by_service["notification"] >= 1, by_service
    assert tree_problems(spans, client_span) == []
    # Every replica takes the announcement; the one holding Bob's stream pushes it.
    pushes = [s for s in spans if s.name == "push"]
    assert sorted(s.attributes["push.streams"] for s in pushes) == [0, 1]

    # The trace id is on the services' log lines of that request and its event.
    for key in ("post", "notification"):
        logs = "".join(traced_stack.processes[k].log_text() for k in traced_stack.replicas(key))
        assert f'"trace_id": "{trace_id}"' in logs, f"no {key} log line carries the trace id"

    # Kept for the README's picture of a trace (scripts/render_trace.py draws it).
    out = ARTIFACTS / "traces"
    out.mkdir(parents=True, exist_ok=True)
    (out / "post-trace.json").write_text(json.dumps([s.as_dict() for s in spans], indent=1))


async def test_the_cleaners_runs_are_traced_from_beat_to_the_delete(traced_stack, receiver):
    traced_stack.start_cleaner(max_age=3600, interval=1)

    async def a_whole_run() -> bool:
        """A beat's send, the worker's run under it, and the run's delete under that."""
        spans = [s for s in receiver.spans() if s.service == "cleaner_worker"]
        by_parent = {s.parent_id: s for s in spans}
        for send in (s for s in spans if s.name.startswith("apply_async/")):
            run = by_parent.get(send.span_id)
            if run is not None and run.name.startswith("run/"):
                deletes = [s for s in spans if s.parent_id == run.span_id]
                return any(s.attributes.get("db.system") == "mongodb" for s in deletes)
        return False

    try:
        await eventually(a_whole_run, timeout=60)
    except TimeoutError:
        got = sorted(
            {(s.name, s.instance) for s in receiver.spans() if s.service == "cleaner_worker"}
        )
        pytest.fail(f"no whole run among the cleaner's spans: {got}")
