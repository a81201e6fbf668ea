"""What post_service does, apart from HTTP: the routes (api.py) parse, authorise, call one of
these and shape the answer; tests call them directly against the real stores."""

from dataclasses import dataclass

import structlog
from bson import ObjectId
from minio.error import MinioException
from pymongo.errors import ConnectionFailure, DuplicateKeyError
from urllib3.exceptions import HTTPError

from common.clock import utc_now
from common.events import PostCreated, PostSnapshot
from common.mongo import Document
from common.outbox import Outbox
from common.relay import OutboxRelay
from post_service.snippets import SnippetStore
from post_service.store import REQUEST, PostStore

log = structlog.get_logger(__name__)

CODE_PREVIEW_LINES = 8
CODE_PREVIEW_CHARS = 400
EVENT_PREVIEW_CHARS = 200

STORAGE_ERRORS = (OSError, HTTPError, MinioException)


class SnippetStoreUnavailable(Exception):
    """The snippet store could not be reached; nothing was stored."""


@dataclass(frozen=True)
class Author:
    id: str
    email: str


@dataclass(frozen=True)
class OpenedPost:
    """A stored post with its whole snippet."""

    post: Document
    code: str | None


def code_preview(code: str) -> str:
    """The first lines of a snippet, short enough to keep in the post document for the feed."""
    return "\n".join(code.splitlines()[:CODE_PREVIEW_LINES])[:CODE_PREVIEW_CHARS]


def snippet_key(post_id: ObjectId) -> str:
    return f"posts/{post_id}.txt"


async def create_post(
    author: Author,
    text: str,
    code: str | None,
    language: str | None,
    *,
    posts: PostStore,
    snippets: SnippetStore,
    relay: OutboxRelay,
    correlation: str | None,
    request_key: str | None = None,
) -> OpenedPost:
    """Store a post (its snippet first, so a post never points at a missing one) with the
    PostCreated event announcing it, and hand the event to the relay. Returns the stored post.

    All or nothing: if the snippet cannot be stored, nothing is (SnippetStoreUnavailable); if
    the post is refused, its snippet is deleted again and the error propagates. If the
    connection broke with the insert on its way, the post may be stored: its snippet is kept.
    A request sent again with the same ``request_key`` (its client did not hear the answer: a
    replica died, a 502, a 503 of a broken connection) stores nothing and returns the post the
    first one made.
    """
    post_id, created_at = ObjectId(), utc_now()
    key = None
    if code is not None:
        key = snippet_key(post_id)
        try:
            await snippets.put(key, code)
        except STORAGE_ERRORS as exc:
            log.error("snippet not stored", error=repr(exc))
            raise SnippetStoreUnavailable from exc
    post = {
        "_id": post_id,
        "author_id": author.id,
        "author_email": author.email,
        "text": text,
        "language": language,
        "has_code": key is not None,
        "code_key": key,
        "code_preview": code_preview(code) if code is not None else None,
        "created_at": created_at,
    }
    request = None
    if request_key is not None:
        request = post[REQUEST] = f"{author.id}:{request_key}"
    event = PostCreated(
        post=PostSnapshot(
            id=str(post_id),
            author_id=author.id,
            author_email=author.email,
            preview=text[:EVENT_PREVIEW_CHARS],
            has_code=key is not None,
            language=language,
            created_at=created_at,
        )
    )
    claim = relay.claim
    try:
        await posts.insert(post, [event], correlation, claim)
    except Exception as exc:
        if key is not None:
            if isinstance(exc, ConnectionFailure):
                # The connection broke with the insert sent: it may have been stored, so its
                # snippet stays (an orphan object if it was not; a retry with the
                # Idempotency-Key finds the post).
                log.warning("snippet kept, the post may be stored", key=key)
            else:  # the insert was refused: leave no orphan snippet behind
                try:
                    await snippets.delete(key)
                except STORAGE_ERRORS:
                    log.warning("orphan snippet left", key=key)
        if isinstance(exc, DuplicateKeyError) and request is not None:
            first = await posts.made_by_request(request)
            if first is not None:
                log.info("post request repeated", post_id=str(first["_id"]))
                return await _with_code(first, snippets)
        raise
    relay.submit(Outbox.written(post_id, [event], correlation), claim)
    log.info("post created", post_id=str(post_id), has_code=key is not None)
    return OpenedPost(post, code)


async def open_post(
    post_id: ObjectId, *, posts: PostStore, snippets: SnippetStore
) -> OpenedPost | None:
    """A post with its whole snippet, or None if there is no such post."""
    post = await posts.get(post_id)
    return None if post is None else await _with_code(post, snippets)


async def _with_code(post: Document, snippets: SnippetStore) -> OpenedPost:
    code = None
    if post.get("code_key"):
        try:
            code = await snippets.get(post["code_key"])
        except STORAGE_ERRORS as exc:
            log.error("snippet not read", key=post["code_key"], error=repr(exc))
            raise SnippetStoreUnavailable from exc
    return OpenedPost(post, code)
