from datetime import UTC, datetime

import pytest
from bson import ObjectId

from common.pagination import (
    InvalidCursor,
    after_cursor,
    decode_cursor,
    encode_cursor,
    next_cursor,
    parse_object_id,
    utc_now,
)


def test_cursor_round_trips_position():
    at = datetime(2026, 11, 25, 12, 30, 1, 123000, tzinfo=UTC)
    oid = ObjectId()
    assert decode_cursor(encode_cursor(at, oid)) == (at, oid)


@pytest.mark.parametrize(
    "cursor", ["", "not-base64!", "bm90IGpzb24", "WzEsMl0", "WyJ4IiwieSJd", "WzEsInh5eiJd"]
)
def test_malformed_cursors_are_rejected(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


def test_after_cursor_selects_strictly_older_items():
    at, oid = utc_now(), ObjectId()
    assert after_cursor(None) == {}
    assert after_cursor(encode_cursor(at, oid)) == {
        "$or": [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": oid}}]
    }


def test_next_cursor_points_at_last_item_of_a_full_page():
    docs = [{"created_at": utc_now(), "_id": ObjectId()} for _ in range(3)]
    assert next_cursor(docs, limit=3) is None
    assert next_cursor(docs, limit=2) == encode_cursor(docs[1]["created_at"], docs[1]["_id"])


def test_utc_now_is_cut_to_milliseconds():
    assert utc_now().microsecond % 1000 == 0


def test_parse_object_id_refuses_malformed_ids():
    oid = ObjectId()
    assert parse_object_id(str(oid)) == oid
    assert parse_object_id("nope") is None
    assert parse_object_id("../../etc") is None
