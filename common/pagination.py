"""Keyset pagination over ``(created_at, _id)``, newest first.

A cursor is the position of the last item of a page, opaque to clients (base64url JSON). Keyset
pages stay correct while new items arrive (no skipped or repeated items, unlike offsets) and cost
one index range scan whatever the page number.
"""

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from bson import ObjectId
from bson.errors import InvalidId
from fastapi import Query

NEWEST_FIRST = [("created_at", -1), ("_id", -1)]

Limit = Annotated[int, Query(ge=1, le=100, description="Items per page")]


class InvalidCursor(ValueError):
    pass


def encode_cursor(created_at: datetime, oid: ObjectId) -> str:
    millis = int(created_at.timestamp() * 1000)
    raw = json.dumps([millis, str(oid)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, ObjectId]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        millis, oid = json.loads(raw)
        if not isinstance(millis, int) or not isinstance(oid, str):
            raise InvalidCursor("malformed cursor")
        return datetime.fromtimestamp(millis / 1000, UTC), ObjectId(oid)
    except (binascii.Error, ValueError, TypeError, InvalidId, OverflowError, OSError) as exc:
        raise InvalidCursor("malformed cursor") from exc


def after_cursor(cursor: str | None) -> dict[str, Any]:
    """The filter for items strictly older than the cursor position (all items for ``None``)."""
    if cursor is None:
        return {}
    created_at, oid = decode_cursor(cursor)
    return {
        "$or": [
            {"created_at": {"$lt": created_at}},
            {"created_at": created_at, "_id": {"$lt": oid}},
        ]
    }


def next_cursor(docs: list[dict[str, Any]], limit: int) -> str | None:
    """The cursor after a page fetched with ``limit + 1``: ``None`` when it was the last page."""
    if len(docs) <= limit:
        return None
    last = docs[limit - 1]
    return encode_cursor(last["created_at"], last["_id"])


def parse_object_id(value: str) -> ObjectId | None:
    """The ObjectId in a path parameter, or ``None`` when it is not one (the caller answers 404)."""
    return ObjectId(value) if ObjectId.is_valid(value) else None


def utc_now() -> datetime:
    """Now, cut to the millisecond MongoDB stores, so a cursor compares equal to its item."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
