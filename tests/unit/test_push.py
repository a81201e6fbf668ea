"""The push hub: who gets a notification, and what happens to a stream that falls behind; what
the stream's OpenAPI entry says of its events."""

import asyncio
import json
import time
from datetime import UTC, datetime

import pytest
from jsonschema import Draft202012Validator

from common.events import NotificationSnapshot
from notification_service.api import _event, _pushed
from notification_service.push import PushHub, TooManyStreams, stream_of
from services import service_named


def notification(seq: int, author: str = "alice") -> NotificationSnapshot:
    return NotificationSnapshot(
        id=f"n{seq}",
        seq=seq,
        post_id=f"p{seq}",
        author_id=author,
        author_email=f"{author}@example.com",
        preview="A question",
        created_at=datetime.now(UTC),
    )


async def test_every_stream_but_the_authors_gets_it():
    hub = PushHub(buffer=10, max_streams=10)
    bob, carol, alice = hub.subscribe("bob"), hub.subscribe("carol"), hub.subscribe("alice")
    new = notification(1, author="alice")
    assert hub.deliver(new) == 2
    assert (await bob.next(1)) is new
    assert (await carol.next(1)) is new
    assert (await alice.next(0.05)) is None
    assert not alice.ended


async def test_a_repeated_notice_reaches_no_stream_twice():
    hub = PushHub(buffer=10, max_streams=10)
    bob = hub.subscribe("bob")
    first, second = notification(1), notification(2)
    assert hub.deliver(first) == 1
    assert hub.deliver(first.model_copy()) == 0  # announced again after a redelivery
    assert hub.deliver(second) == 1
    assert [await bob.next(1), await bob.next(1), await bob.next(0.05)] == [first, second, None]


async def test_a_stream_that_falls_behind_is_ended_and_the_others_go_on():
    hub = PushHub(buffer=2, max_streams=10)
    slow, fast = hub.subscribe("bob"), hub.subscribe("carol")
    sent = [notification(seq) for seq in range(1, 5)]
    for n in sent[:2]:
        hub.deliver(n)
        assert (await fast.next(1)) is n
    assert hub.deliver(sent[2]) == 1  # slow's buffer was full: it is dropped, fast gets it
    assert slow.ended
    assert (await slow.next(1)) is None  # it sends nothing more, and its stream ends at once
    assert (await fast.next(1)) is sent[2]
    assert hub.deliver(sent[3]) == 1


async def test_streams_end_at_their_deadline_or_when_all_are_ended():
    hub = PushHub(buffer=10, max_streams=10)
    subscription = hub.subscribe("bob")
    started = time.monotonic()
    assert [n async for n in stream_of(subscription, until=started + 0.2)] == []
    assert time.monotonic() - started < 5

    subscription = hub.subscribe("bob")
    received: list[NotificationSnapshot] = []
    got_one = asyncio.Event()

    async def read() -> None:
        async for n in stream_of(subscription, until=time.monotonic() + 60):
            received.append(n)
            got_one.set()

    reader = asyncio.create_task(read())
    first = notification(1)
    hub.deliver(first)
    await asyncio.wait_for(got_one.wait(), 5)
    hub.end_all()  # as after a broker reconnect: clients come back and catch up
    await asyncio.wait_for(reader, 5)
    assert received == [first]
    assert hub.deliver(notification(2)) == 0


def test_a_replica_refuses_streams_past_its_limit():
    hub = PushHub(buffer=1, max_streams=2)
    first = hub.subscribe("bob")
    hub.subscribe("carol")
    with pytest.raises(TooManyStreams):
        hub.subscribe("dave")
    hub.unsubscribe(first)
    hub.subscribe("dave")


def test_the_streams_document_describes_the_events_it_sends():
    """Each event is a `notification` whose `data` is a Notification (JSON), its `id` the seq."""
    document = service_named("notification").create_app().openapi()  # not started
    answer = document["paths"]["/api/notification/stream"]["get"]["responses"]["200"]
    event_schema = answer["content"]["text/event-stream"]["itemSchema"]
    data_schema = event_schema["properties"]["data"]["contentSchema"]

    sent = _event(_pushed(notification(42)), 42).encode().decode()
    fields = dict(line.split(": ", 1) for line in sent.splitlines() if line)
    assert fields["id"] == "42"
    components = {"components": document["components"]}  # what their $ref points into
    Draft202012Validator({**event_schema, **components}).validate(fields)
    Draft202012Validator(
        {**data_schema, **components}, format_checker=Draft202012Validator.FORMAT_CHECKER
    ).validate(json.loads(fields["data"]))
