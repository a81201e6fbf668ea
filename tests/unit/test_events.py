import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from common.events import EVENTS, Event, PostCreated, PostSnapshot, event_for


def _event() -> PostCreated:
    return PostCreated(
        post=PostSnapshot(
            id="p1",
            author_id="u1",
            author_email="a@example.com",
            preview="hello",
            has_code=True,
            language="python",
            created_at=datetime(2026, 1, 2, tzinfo=UTC),
        )
    )


def test_post_created_round_trips_through_json():
    event = _event()
    assert PostCreated.model_validate_json(event.model_dump_json()) == event


def test_post_created_wire_format_is_versioned_and_carries_ids():
    wire = json.loads(_event().model_dump_json())
    assert wire["event_type"] == "PostCreated"
    assert wire["version"] == 1
    assert wire["event_id"] and wire["occurred_at"]
    assert set(wire["post"]) == {
        "id",
        "author_id",
        "author_email",
        "preview",
        "has_code",
        "language",
        "created_at",
    }
    assert "routing_key" not in wire and "ROUTING_KEY" not in wire


def test_every_contract_is_registered_by_its_versioned_routing_key():
    assert PostCreated.ROUTING_KEY == "post.created.v1"
    assert event_for("post.created.v1") is PostCreated
    assert all(key.rsplit(".", 1)[-1].startswith("v") for key in EVENTS)
    with pytest.raises(LookupError):
        event_for("post.created.v2")


def test_a_routing_key_belongs_to_one_contract():
    with pytest.raises(ValueError, match="two events"):

        class PostCreatedAgain(Event):
            ROUTING_KEY = "post.created.v1"
            event_type: str = "PostCreatedAgain"
            version: int = 1


def test_each_event_gets_its_own_id():
    assert _event().event_id != _event().event_id


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"event_type": "PostCreated", "version": 2, "post": {}}',
        b'{"event_type": "PostDeleted", "version": 1}',
    ],
)
def test_malformed_events_are_rejected(body):
    with pytest.raises(ValidationError):
        PostCreated.model_validate_json(body)
