"""Routes of notification_service: the caller's notifications and their read state."""

import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from common.errors import BODY_ERRORS, DATABASE_UNAVAILABLE, error_response
from common.events import NotificationSnapshot
from common.limits import RateLimit, too_many
from common.mongo import parse_object_id
from common.pagination import Cursor, Limit, next_cursor
from common.state import from_state
from common.tokens import REQUIRES_TOKEN, CurrentUser
from notification_service.push import NotificationAnnouncer, PushHub, TooManyStreams, stream_of
from notification_service.store import UNREAD_CAP, NotificationStore
from notification_service.streams import OpenStreams
from notification_service.use_cases import notify

router = APIRouter(
    prefix="/api/notification",
    tags=["notifications"],
    responses={**REQUIRES_TOKEN, **DATABASE_UNAVAILABLE},
)


class Notification(BaseModel):
    id: str
    post_id: str
    author_email: str
    preview: str
    created_at: datetime
    read: bool


class NotificationPage(BaseModel):
    items: list[Notification]
    next_cursor: str | None


class UnreadCount(BaseModel):
    count: int = Field(
        description=f"Unread among the newest {UNREAD_CAP} notifications: {UNREAD_CAP} reads as "
        f"'{UNREAD_CAP - 1}+'",
        ge=0,
        le=UNREAD_CAP,
    )


class NotificationRequest(BaseModel):
    post_id: str = Field(min_length=1, max_length=64)


Notifications = Annotated[NotificationStore, from_state("notifications", NotificationStore)]
Hub = Annotated[PushHub, from_state("push", PushHub)]
Streams = Annotated[OpenStreams, from_state("streams", OpenStreams)]
WriteLimit = Annotated[RateLimit, from_state("write_limit", RateLimit)]

WRITES_LIMITED = too_many(
    "This user changed too many notifications lately (NOTIFICATION_WRITE_LIMIT_BURST, then one "
    "per NOTIFICATION_WRITE_LIMIT_INTERVAL); nothing was changed"
)


async def _announcer(request: Request) -> NotificationAnnouncer | None:
    """None where the replica has no broker link (neither consuming nor pushing). ``async``:
    see common/state.py."""
    announcer: NotificationAnnouncer | None = request.app.state.announcer
    return announcer


Announcer = Annotated[NotificationAnnouncer | None, Depends(_announcer)]


def _out(doc: dict[str, Any], read: bool) -> Notification:
    return Notification(
        id=str(doc["_id"]),
        post_id=doc["post_id"],
        author_email=doc["author_email"],
        preview=doc["preview"],
        created_at=doc["created_at"],
        read=read,
    )


@router.get("", response_model=NotificationPage)
async def list_notifications(
    user: CurrentUser, store: Notifications, limit: Limit = 20, cursor: Cursor = None
) -> NotificationPage:
    """Notifications of recent posts by other users, newest first."""
    docs = await store.page_for(user.id, limit, cursor)
    return NotificationPage(
        items=[_out(d, d["read"]) for d in docs[:limit]], next_cursor=next_cursor(docs, limit)
    )


@router.get("/unread-count", response_model=UnreadCount)
async def unread_count(user: CurrentUser, store: Notifications) -> UnreadCount:
    return UnreadCount(count=await store.unread_count(user.id))


# At most this many missed notifications are replayed to a resumed stream (the newest of them);
# its client resynchronises the rest from the list, as it does on every connect.
CATCH_UP = 100
HEARTBEAT_SECONDS = 15
# One event of the stream, as OpenAPI 3.2 describes Server-Sent Events (and FastAPI's own SSE
# routes do in 3.1 documents): `itemSchema` for each event, whose `data` is a JSON Notification.
NOTIFICATION_EVENT = {
    "type": "object",
    "properties": {
        "event": {"const": "notification"},
        "id": {"type": "string", "pattern": "^[0-9]{1,18}$"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/Notification"},
        },
    },
    "required": ["event", "id", "data"],
}


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": (
                "Server-Sent Events: one `notification` event per new notification of another "
                f"user's post (`data` is a Notification, `id` its place in arrival order), a "
                f"`: ping` comment every {HEARTBEAT_SECONDS} s. The stream ends now and then "
                "(a slow reader, a restart, its maximum age): reconnect with `Last-Event-ID` "
                f"to be sent the newest {CATCH_UP} missed first."
            ),
            "content": {"text/event-stream": {"itemSchema": NOTIFICATION_EVENT}},
        },
        503: error_response("This replica serves as many streams as it may; try again"),
        **too_many("This user holds STREAMS_PER_USER streams already (on any replicas)"),
    },
)
async def stream(
    user: CurrentUser,
    store: Notifications,
    hub: Hub,
    streams: Streams,
    last_event_id: Annotated[
        str | None,
        Header(
            description="The `id` of the last event received, to resume after it",
            pattern=r"^[0-9]{1,18}$",
        ),
    ] = None,
) -> EventSourceResponse:
    """New notifications, pushed as they are stored (the author's own posts excluded)."""
    counted = await streams.open(user.id)
    try:
        subscription = hub.subscribe(user.id)  # before reading the store: nothing falls between
    except TooManyStreams as exc:
        await streams.close(counted)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    try:
        missed = (
            []
            if last_event_id is None
            else await store.since(user.id, int(last_event_id), CATCH_UP)
        )
    except BaseException:
        hub.unsubscribe(subscription)
        await streams.close(counted)
        raise
    until = time.monotonic() + hub.max_age.total_seconds()

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            replayed = set()
            for doc in missed:
                replayed.add(str(doc["_id"]))
                yield _event(_out(doc, doc["read"]), doc["seq"])
            async for notification in stream_of(subscription, until=until):
                if notification.id not in replayed:
                    yield _event(_pushed(notification), notification.seq)
        finally:
            hub.unsubscribe(subscription)
            await streams.close(counted)

    return EventSourceResponse(
        events(), ping=HEARTBEAT_SECONDS, send_timeout=hub.send_timeout.total_seconds()
    )


def _pushed(notification: NotificationSnapshot) -> Notification:
    return Notification(
        id=notification.id,
        post_id=notification.post_id,
        author_email=notification.author_email,
        preview=notification.preview,
        created_at=notification.created_at,
        read=False,
    )


def _event(notification: Notification, seq: int) -> ServerSentEvent:
    return ServerSentEvent(data=notification.model_dump_json(), event="notification", id=str(seq))


@router.post(
    "",
    response_model=Notification,
    status_code=status.HTTP_201_CREATED,
    responses={
        **BODY_ERRORS,
        200: {"description": "It existed already", "model": Notification},
        404: error_response("This service has never seen that post, or its notification expired"),
        **WRITES_LIMITED,
    },
)
async def create_notification(
    body: NotificationRequest,
    user: CurrentUser,
    store: Notifications,
    announcer: Announcer,
    response: Response,
    limit: WriteLimit,
) -> Notification:
    """Create the notification of a post this service was told of, with the same use case the
    event handler calls: idempotent, a repeat answers 200 with the existing one. A post older
    than NOTIFICATION_MAX_AGE has no notification any more (the cleaner's deletion is final):
    404, as for a post never announced."""
    await limit.take(user.id)
    post = await store.known_post(body.post_id)
    if post is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such post, or its notification expired")
    added = await notify([post], store=store, announcer=announcer)
    if not added:
        response.status_code = status.HTTP_200_OK
    doc = await store.for_post(post.id)
    if doc is None:  # deleted in between by a cleaner run with a shorter NOTIFICATION_MAX_AGE
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such post, or its notification expired")
    read_ids = await store.read_ids(user.id, [doc])
    return _out(doc, doc["_id"] in read_ids)


@router.post(
    "/{notification_id}/read",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: error_response("No such notification"), **WRITES_LIMITED},
)
async def mark_read(
    notification_id: str, user: CurrentUser, store: Notifications, limit: WriteLimit
) -> Response:
    await limit.take(user.id)
    oid = parse_object_id(notification_id)
    if oid is None or not await store.mark_read(oid, user.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "notification not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
