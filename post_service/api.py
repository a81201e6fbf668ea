"""Routes of post_service: create a post, the feed, one post."""

from datetime import datetime
from typing import Annotated, Any

import structlog
from asgi_correlation_id import correlation_id
from bson import ObjectId
from fastapi import APIRouter, HTTPException, status
from minio.error import MinioException
from pydantic import BaseModel, Field, StringConstraints
from urllib3.exceptions import HTTPError

from common.clock import utc_now
from common.errors import BODY_ERRORS, DATABASE_UNAVAILABLE, error_response
from common.events import PostCreated, PostSnapshot
from common.pagination import Cursor, Limit, next_cursor, parse_object_id
from common.service import from_state
from common.tokens import REQUIRES_TOKEN, CurrentUser
from post_service.outbox import OutboxRelay
from post_service.snippets import SnippetStore
from post_service.store import PostStore

log = structlog.get_logger(__name__)

router = APIRouter(
    prefix="/api/post", tags=["posts"], responses={**REQUIRES_TOKEN, **DATABASE_UNAVAILABLE}
)

MAX_TEXT_CHARS = 10_000
MAX_CODE_BYTES = 64 * 1024
CODE_PREVIEW_LINES = 8
CODE_PREVIEW_CHARS = 400
EVENT_PREVIEW_CHARS = 200

STORAGE_ERRORS = (OSError, HTTPError, MinioException)


class NewPost(BaseModel):
    text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)
    ]
    code: str | None = Field(default=None, description=f"At most {MAX_CODE_BYTES} bytes (UTF-8)")
    language: Annotated[str, StringConstraints(pattern=r"^[a-z0-9+#.-]{1,32}$")] | None = None


class Post(BaseModel):
    id: str
    author_id: str
    author_email: str
    text: str
    language: str | None
    code: str | None
    created_at: datetime


class PostSummary(BaseModel):
    id: str
    author_id: str
    author_email: str
    text: str
    language: str | None
    has_code: bool
    code_preview: str | None
    created_at: datetime


class FeedPage(BaseModel):
    items: list[PostSummary]
    next_cursor: str | None


Posts = Annotated[PostStore, from_state("posts", PostStore)]
Snippets = Annotated[SnippetStore, from_state("snippets", SnippetStore)]
Relay = Annotated[OutboxRelay, from_state("relay", OutboxRelay)]


def code_preview(code: str) -> str:
    """The first lines of a snippet, short enough to keep in the post document for the feed."""
    return "\n".join(code.splitlines()[:CODE_PREVIEW_LINES])[:CODE_PREVIEW_CHARS]


def snippet_key(post_id: ObjectId) -> str:
    return f"posts/{post_id}.txt"


def _summary(doc: dict[str, Any]) -> PostSummary:
    return PostSummary(
        id=str(doc["_id"]),
        author_id=doc["author_id"],
        author_email=doc["author_email"],
        text=doc["text"],
        language=doc.get("language"),
        has_code=doc["has_code"],
        code_preview=doc.get("code_preview"),
        created_at=doc["created_at"],
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Post,
    responses={
        **BODY_ERRORS,
        413: error_response(
            f"Code over {MAX_CODE_BYTES} bytes, or a body over 256 KiB (the gateway's limit)"
        ),
        503: error_response("The database or the snippet store is unavailable; nothing was stored"),
    },
)
async def create_post(
    body: NewPost,
    user: CurrentUser,
    posts: Posts,
    snippets: Snippets,
    relay: Relay,
) -> Post:
    code = body.code or None
    if code is not None and len(code.encode()) > MAX_CODE_BYTES:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"code snippet is over {MAX_CODE_BYTES} bytes"
        )
    post_id, created_at = ObjectId(), utc_now()
    key = None
    if code is not None:
        # The snippet goes first: a post never points at a snippet that is not there.
        key = snippet_key(post_id)
        try:
            await snippets.put(key, code)
        except STORAGE_ERRORS as exc:
            log.error("snippet not stored", error=repr(exc))
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "snippet storage unavailable, try again"
            ) from None
    doc = {
        "_id": post_id,
        "author_id": user.id,
        "author_email": user.email,
        "text": body.text,
        "language": body.language,
        "has_code": key is not None,
        "code_key": key,
        "code_preview": code_preview(code) if code is not None else None,
        "created_at": created_at,
    }
    event = PostCreated(
        post=PostSnapshot(
            id=str(post_id),
            author_id=user.id,
            author_email=user.email,
            preview=body.text[:EVENT_PREVIEW_CHARS],
            has_code=key is not None,
            language=body.language,
            created_at=created_at,
        )
    )
    correlation = correlation_id.get()
    try:
        await posts.insert(doc, event, correlation, relay.claim)
    except Exception:
        if key is not None:  # leave no orphan snippet behind
            try:
                await snippets.delete(key)
            except STORAGE_ERRORS:
                log.warning("orphan snippet left", key=key)
        raise
    relay.submit(post_id, event, correlation)
    log.info("post created", post_id=str(post_id), has_code=key is not None)
    return Post(
        id=str(post_id),
        author_id=user.id,
        author_email=user.email,
        text=body.text,
        language=body.language,
        code=code,
        created_at=created_at,
    )


@router.get("", response_model=FeedPage)
async def feed(
    user: CurrentUser, posts: Posts, limit: Limit = 20, cursor: Cursor = None
) -> FeedPage:
    """The latest posts of everyone but the caller, newest first."""
    docs = await posts.feed(exclude_author=user.id, limit=limit, cursor=cursor)
    return FeedPage(items=[_summary(d) for d in docs[:limit]], next_cursor=next_cursor(docs, limit))


@router.get(
    "/{post_id}",
    response_model=Post,
    responses={
        404: error_response("No such post"),
        503: error_response("The database or the snippet store is unavailable"),
    },
)
async def get_post(post_id: str, _user: CurrentUser, posts: Posts, snippets: Snippets) -> Post:
    oid = parse_object_id(post_id)
    doc = await posts.get(oid) if oid is not None else None
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "post not found")
    code = None
    if doc.get("code_key"):
        try:
            code = await snippets.get(doc["code_key"])
        except STORAGE_ERRORS as exc:
            log.error("snippet not read", key=doc["code_key"], error=repr(exc))
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "snippet storage unavailable, try again"
            ) from None
    summary = _summary(doc)
    return Post(**summary.model_dump(exclude={"has_code", "code_preview"}), code=code)
