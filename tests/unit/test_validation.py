"""Input rules of the API models: what a client can send and what it gets back as 422."""

import pytest
from pydantic import ValidationError

from auth_service.api import SignIn, SignUp
from post_service.api import NewPost
from post_service.use_cases import CODE_PREVIEW_LINES, code_preview


def test_email_is_trimmed_and_lower_cased():
    assert SignUp(email="  Ada@Example.COM ", password="password1").email == "ada@example.com"
    assert SignIn(email=" Ada@Example.COM", password="x").email == "ada@example.com"


@pytest.mark.parametrize(
    "email",
    [
        "",
        "no-at-sign",
        "a@",
        "@b.c",
        "a b@c.d",
        {"$gt": ""},
        42,
        None,
        ["a@b.c"],
        "x" * 250 + "@b.co",
    ],
)
def test_bad_emails_are_refused(email):
    with pytest.raises(ValidationError):
        SignUp(email=email, password="password1")


@pytest.mark.parametrize("password", ["short", "x" * 73, "é" * 37, {"$ne": ""}, None])
def test_passwords_outside_8_to_72_bytes_are_refused(password):
    with pytest.raises(ValidationError):
        SignUp(email="a@example.com", password=password)


@pytest.mark.parametrize("password", ["x" * 8, "x" * 72, "é" * 36])
def test_passwords_of_8_to_72_bytes_are_accepted(password):
    assert SignUp(email="a@example.com", password=password).password == password


def test_post_text_is_trimmed_and_required():
    assert NewPost(text="  hi  ").text == "hi"
    for text in ["", "   ", None, "x" * 10_001]:
        with pytest.raises(ValidationError):
            NewPost.model_validate({"text": text})  # None included: not a valid argument


@pytest.mark.parametrize("language", ["python", "c++", "c#", "objective-c", "f.sharp"])
def test_languages_are_short_lowercase_tokens(language):
    assert NewPost(text="t", language=language).language == language


@pytest.mark.parametrize("language", ["Python", "", "x" * 33, "<script>", "py thon"])
def test_odd_languages_are_refused(language):
    with pytest.raises(ValidationError):
        NewPost(text="t", language=language)


def test_code_preview_keeps_the_first_lines_only():
    code = "\n".join(f"line {i}" for i in range(50))
    preview = code_preview(code)
    assert preview.splitlines() == [f"line {i}" for i in range(CODE_PREVIEW_LINES)]
    assert len(code_preview("x" * 10_000)) == 400


def test_email_has_one_unicode_spelling():
    """NFC for the local part, IDNA's mapping for the domain: as email-validator normalises."""
    for email in ["cafe\u0301@Example.com", "CAF\u00c9@example.com", "caf\u00e9@EXAMPLE.com"]:
        assert SignUp(email=email, password="password1").email == "caf\u00e9@example.com"
        assert SignIn(email=email, password="x").email == "caf\u00e9@example.com"
    for email in ["g@xn--bcher-kva.example", "g@B\u00dcCHER.example"]:
        assert SignUp(email=email, password="password1").email == "g@b\u00fccher.example"
    assert SignIn(email=" Not An Email ", password="x").email == "not an email"
