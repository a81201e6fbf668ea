"""Passwords: bcrypt's hashes, and sign-up's documented limit, which the service keeps."""

import re

import hypothesis
import pytest
import schemathesis
from pydantic import TypeAdapter

from auth_service.api import SURELY_8_TO_72_BYTES, NewPassword
from auth_service.passwords import PasswordHasher
from services import service_named

hasher = PasswordHasher(rounds=4)


async def test_right_password_matches_and_wrong_one_does_not():
    hashed = await hasher.hash("correct horse")
    assert await hasher.verify("correct horse", hashed)
    assert not await hasher.verify("wrong horse", hashed)


async def test_unknown_user_never_matches():
    assert not await hasher.verify("anything at all", None)


async def test_password_longer_than_72_bytes_never_matches_its_prefix():
    hashed = await hasher.hash("x" * 72)
    assert not await hasher.verify("x" * 73, hashed)


# Sign-up's documented schema, as Schemathesis reads it to fuzz the API (tests/e2e/test_fuzz.py).
SIGN_UP = schemathesis.openapi.from_dict(service_named("auth").create_app().openapi())


@hypothesis.settings(max_examples=200, derandomize=True, database=None, deadline=None)
@hypothesis.given(case=SIGN_UP["/api/signup"]["POST"].as_strategy())
def test_every_password_the_document_admits_is_taken(case):
    """The limit is 8 to 72 bytes of UTF-8; what the schema admits in characters is within it."""
    if isinstance(case.body, dict) and isinstance(case.body.get("password"), str):
        TypeAdapter(NewPassword).validate_python(case.body["password"])


@pytest.mark.parametrize("password", ["x" * 72, "é" * 36, "日" * 24, "😀" * 18])
def test_the_document_admits_the_longest_password_of_each_width(password):
    assert len(password.encode()) == 72
    TypeAdapter(NewPassword).validate_python(password)
    assert re.search(SURELY_8_TO_72_BYTES, password)
