import base64
import itertools
import re

import pytest
from bson import ObjectId

from common.clock import utc_now
from common.mongo import parse_object_id
from common.pagination import (
    CURSOR_PATTERN,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    next_cursor,
)


def test_cursor_round_trips_position():
    assert decode_cursor(encode_cursor(1234567)) == 1234567


def test_no_cursor_and_an_empty_cursor_mean_the_first_page():
    assert decode_cursor(None) is None
    assert decode_cursor("") is None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        _b64(b"not a number"),
        _b64(b"-5"),
        _b64(b"1e9"),
        _b64("\uff11\uff12".encode()),  # full-width digits are digits to str.isdigit, not to us
        _b64(b"[" * 1100 + b"]" * 1100),  # deep nesting once crashed a JSON decoder
        "A" * 1000,
        "MB",  # decodes to "0" (base64 ignores the last bits), but encode_cursor never writes it
        "MA==",  # padded
    ],
)
def test_malformed_cursors_are_rejected(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


@pytest.mark.parametrize("seq", [0, 7, 42, 999, 1234567, 10**23 - 1])
def test_the_documented_pattern_admits_every_cursor(seq):
    assert re.fullmatch(CURSOR_PATTERN, encode_cursor(seq))


def test_the_pattern_admits_exactly_the_encodings_of_digits():
    """Every string of up to 3 base64url characters is a cursor (by the pattern the OpenAPI
    documents state, and so for decode_cursor) if and only if it is what base64url writes, unpadded,
    for a string of ASCII digits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for size in (1, 2, 3):
        for chars in itertools.product(alphabet, repeat=size):
            cursor = "".join(chars)
            try:
                raw = base64.urlsafe_b64decode(cursor + "=" * (-size % 4))
            except ValueError:
                raw = b""
            expected = raw.isdigit() and raw.isascii() and _b64(raw) == cursor
            assert bool(re.fullmatch(CURSOR_PATTERN, cursor)) == expected, cursor
            if expected:
                assert decode_cursor(cursor) == int(raw)
            else:
                with pytest.raises(InvalidCursor):
                    decode_cursor(cursor)


def test_next_cursor_points_at_last_item_of_a_full_page():
    docs = [{"seq": seq} for seq in (9, 7, 4)]
    assert next_cursor(docs, limit=3) is None
    assert next_cursor(docs, limit=2) == encode_cursor(7)


def test_utc_now_is_cut_to_milliseconds():
    assert utc_now().microsecond % 1000 == 0


def test_parse_object_id_refuses_malformed_ids():
    oid = ObjectId()
    assert parse_object_id(str(oid)) == oid
    assert parse_object_id("nope") is None
    assert parse_object_id("../../etc") is None
