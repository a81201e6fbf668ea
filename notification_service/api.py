"""Routes of notification_service: the caller's notifications and their read state."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field

from common.errors import BODY_ERRORS, DATABASE_UNAVAILABLE, error_response
from common.pagination import Cursor, Limit, next_cursor, parse_object_id
from common.service import from_state
from common.tokens import REQUIRES_TOKEN, CurrentUser
from notification_service.store import UNREAD_CAP, NotificationStore

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


@router.post(
    "",
    response_model=Notification,
    status_code=status.HTTP_201_CREATED,
    responses={
        **BODY_ERRORS,
        200: {"description": "It existed already", "model": Notification},
        404: error_response("This service has never seen that post, or its notification expired"),
    },
)
async def create_notification(
    body: NotificationRequest, user: CurrentUser, store: Notifications, response: Response
) -> Notification:
    """Create the notification of a post this service was told of, with the same store call the
    event consumer makes: idempotent, a repeat answers 200 with the existing one. A post older
    than NOTIFICATION_MAX_AGE has no notification any more (the cleaner's deletion is final):
    404, as for a post never announced."""
    post = await store.known_post(body.post_id)
    if post is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such post, or its notification expired")
    if not await store.add([post]):
        response.status_code = status.HTTP_200_OK
    doc = await store.for_post(post.id)
    if doc is None:  # deleted in between by a cleaner run with a shorter NOTIFICATION_MAX_AGE
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such post, or its notification expired")
    read_ids = await store.read_ids(user.id, [doc])
    return _out(doc, doc["_id"] in read_ids)


@router.post(
    "/{notification_id}/read",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: error_response("No such notification")},
)
async def mark_read(notification_id: str, user: CurrentUser, store: Notifications) -> Response:
    oid = parse_object_id(notification_id)
    if oid is None or not await store.mark_read(oid, user.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "notification not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
