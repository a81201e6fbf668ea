"""The contracts between services: every event that crosses the broker is defined here.

An event is one class: its fields (the wire format, JSON) and, as class constants, its routing
key, which carries the version (``post.created.v1``). Defining the class registers it, so the
publisher, the outbox relay and the consumer find it by routing key and name no event
themselves. A breaking change is a new class with a new version, published beside the old one
until every consumer has moved.
"""

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    """What every event carries: its own id and when it happened."""

    model_config = ConfigDict(frozen=True)

    ROUTING_KEY: ClassVar[str]
    event_type: str
    version: int
    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def subject(self) -> dict[str, str]:
        """What the event is about, for log lines (e.g. ``{"post_id": ...}``)."""
        return {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.ROUTING_KEY in EVENTS:
            raise ValueError(f"two events use the routing key {cls.ROUTING_KEY!r}")
        EVENTS[cls.ROUTING_KEY] = cls


EVENTS: dict[str, type[Event]] = {}
"""Every event contract by its routing key (filled as the classes below are defined)."""


def event_for(routing_key: str) -> type[Event]:
    """The contract of a routing key; ``LookupError`` for one no contract defines."""
    try:
        return EVENTS[routing_key]
    except KeyError:
        raise LookupError(f"no event is published as {routing_key!r}") from None


class PostSnapshot(BaseModel):
    """What consumers may know of a post: enough to notify, never the whole snippet."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=64)
    author_id: str = Field(min_length=1, max_length=64)
    author_email: str = Field(min_length=3, max_length=254)
    preview: str = Field(max_length=500)
    has_code: bool
    language: str | None = None
    created_at: datetime


class PostCreated(Event):
    """Published by post_service once the post is stored."""

    ROUTING_KEY: ClassVar[str] = "post.created.v1"
    event_type: Literal["PostCreated"] = "PostCreated"
    version: Literal[1] = 1
    post: PostSnapshot

    def subject(self) -> dict[str, str]:
        return {"post_id": self.post.id}


class NotificationSnapshot(BaseModel):
    """A stored notification, as the browsers connected to any replica are told of it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=1, description="Its place in arrival order: the stream's event id")
    post_id: str = Field(min_length=1, max_length=64)
    author_id: str = Field(min_length=1, max_length=64)
    author_email: str = Field(min_length=3, max_length=254)
    preview: str = Field(max_length=500)
    created_at: datetime


class NotificationsCreated(Event):
    """Published by notification_service once it has stored a batch of notifications (one
    message a batch: per notification, the broker's client cost more than the rest of the
    batch's work); every replica pushes them to the browsers connected to it (never to their
    authors)."""

    ROUTING_KEY: ClassVar[str] = "notifications.created.v1"
    event_type: Literal["NotificationsCreated"] = "NotificationsCreated"
    version: Literal[1] = 1
    notifications: list[NotificationSnapshot] = Field(min_length=1, max_length=2_000)
    # Each notification's trace context (W3C headers) by notification id, so that its push
    # joins the trace of its post; empty while tracing is off.
    traces: dict[str, dict[str, str]] = Field(default_factory=dict)

    def subject(self) -> dict[str, str]:
        return {"post_ids": ",".join(n.post_id for n in self.notifications)}
