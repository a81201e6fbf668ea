"""The contracts between services: every event that crosses the broker is defined here.

Events are versioned by routing key (``post.created.v1``): a breaking change gets a new version
that publishers emit beside the old one until every consumer has moved.
"""

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

POST_CREATED_V1 = "post.created.v1"


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


class PostCreated(BaseModel):
    """Published by post_service once the post is stored."""

    model_config = ConfigDict(frozen=True)

    event_type: Literal["PostCreated"] = "PostCreated"
    version: Literal[1] = 1
    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    post: PostSnapshot

    routing_key: str = Field(default=POST_CREATED_V1, exclude=True)
