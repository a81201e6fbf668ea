"""Routes of post_service: create a post, the feed, one post."""

from datetime import datetime
from typing import Annotated, Any

from asgi_correlation_id import correlation_id
from fastapi import APIRouter, Header, HTTPException, status
from pydantic import BaseModel, Field, StringConstraints

from common.admission import Admission, busy
from common.errors import BODY_ERRORS, DATABASE_UNAVAILABLE, error_response
from common.limits import RateLimit, too_many
from common.mongo import parse_object_id
from common.pagination import Cursor, Limit, next_cursor
from common.relay import OutboxRelay
from common.state import from_state
from common.tokens import REQUIRES_TOKEN, CurrentUser
from post_service import use_cases
from post_service.snippets import SnippetStore
from post_service.store import PostStore

router = APIRouter(
    prefix="/api/post", tags=["posts"], responses={**REQUIRES_TOKEN, **DATABASE_UNAVAILABLE}
)

MAX_TEXT_CHARS = 10_000
MAX_CODE_BYTES = 64 * 1024


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
PostLimit = Annotated[RateLimit, from_state("post_limit", RateLimit)]
PostAdmission = Annotated[Admission, from_state("post_admission", Admission)]


def snippets_unavailable() -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, "snippet storage unavailable, try again"
    )


def _post(doc: dict[str, Any], code: str | None) -> Post:
    return Post(**_summary(doc).model_dump(exclude={"has_code", "code_preview"}), code=code)


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
        **busy(
            "The database or the snippet store is unavailable, or this replica is busy "
            "(POST_MAX_AT_WORK posts at work and twice as many waiting, or the next waited "
            "POST_MAX_WAIT: with Retry-After); "
            "nothing was stored"
        ),
        **too_many(
            "This user posted too many posts lately (POST_LIMIT_BURST, then one per "
            "POST_LIMIT_INTERVAL); nothing was stored"
        ),
    },
)
async def create_post(
    body: NewPost,
    user: CurrentUser,
    posts: Posts,
    snippets: Snippets,
    relay: Relay,
    limit: PostLimit,
    admission: PostAdmission,
    idempotency_key: Annotated[
        str | None,
        Header(
            description=(
                "Any value of the client's for this one post: a request sent again with it "
                "(the answer was lost) stores nothing and answers with the post it made"
            ),
            max_length=64,
        ),
    ] = None,
) -> Post:
    code = body.code or None
    if code is not None and len(code.encode()) > MAX_CODE_BYTES:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"code snippet is over {MAX_CODE_BYTES} bytes"
        )
    async with admission.slot():
        await limit.take(user.id)
        try:
            created = await use_cases.create_post(
                use_cases.Author(user.id, user.email),
                body.text,
                code,
                body.language,
                posts=posts,
                snippets=snippets,
                relay=relay,
                correlation=correlation_id.get(),
                request_key=idempotency_key,
            )
        except use_cases.SnippetStoreUnavailable:
            raise snippets_unavailable() from None
    return _post(created.post, created.code)


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
    try:
        found = await use_cases.open_post(oid, posts=posts, snippets=snippets) if oid else None
    except use_cases.SnippetStoreUnavailable:
        raise snippets_unavailable() from None
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "post not found")
    return _post(found.post, found.code)
