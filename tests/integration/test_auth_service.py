import asyncio

import jwt

from tests.conftest import AUDIENCE, ISSUER


async def test_sign_up_then_sign_in_gives_a_verifiable_token(auth, keys):
    created = await auth.post(
        "/api/signup", json={"email": " Ada@Example.com ", "password": "correct horse"}
    )
    assert created.status_code == 201
    assert created.json()["email"] == "ada@example.com"

    signed_in = await auth.post(
        "/api/signin", json={"email": "ADA@example.com", "password": "correct horse"}
    )
    assert signed_in.status_code == 200
    body = signed_in.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    claims = jwt.decode(
        body["access_token"],
        keys.public.read_bytes(),
        algorithms=["EdDSA"],
        audience=AUDIENCE,
        issuer=ISSUER,
    )
    assert claims["sub"] == created.json()["id"]
    assert claims["email"] == "ada@example.com"


async def test_an_email_registers_once(auth):
    first = await auth.post("/api/signup", json={"email": "b@example.com", "password": "password1"})
    again = await auth.post("/api/signup", json={"email": "B@example.com", "password": "password2"})
    assert first.status_code == 201
    assert again.status_code == 409
    assert again.json() == {"detail": "email already registered"}


async def test_concurrent_sign_ups_with_one_email_create_one_user(auth):
    body = {"email": "race@example.com", "password": "password1"}
    answers = await asyncio.gather(*(auth.post("/api/signup", json=body) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409]


async def test_unknown_email_and_wrong_password_get_the_same_answer(auth):
    await auth.post("/api/signup", json={"email": "c@example.com", "password": "password1"})
    wrong = await auth.post("/api/signin", json={"email": "c@example.com", "password": "nope-nope"})
    unknown = await auth.post(
        "/api/signin", json={"email": "who@example.com", "password": "password1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "invalid email or password"}


async def test_bad_input_is_a_422_with_a_message(auth):
    for body in [
        {"email": "not-an-email", "password": "password1"},
        {"email": {"$gt": ""}, "password": "password1"},
        {"email": "d@example.com", "password": "x" * 73},
        {"email": "d@example.com", "password": "short"},
        {"email": "d@example.com"},
        ["not", "an", "object"],
    ]:
        answer = await auth.post("/api/signup", json=body)
        assert answer.status_code == 422, body
        assert answer.json()["detail"], body
    malformed = await auth.post(
        "/api/signup", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422


async def test_sign_in_with_an_over_long_password_is_refused_not_crashed(auth):
    answer = await auth.post("/api/signin", json={"email": "e@example.com", "password": "x" * 100})
    assert answer.status_code == 401


async def test_health_and_readiness(auth):
    assert (await auth.get("/healthz")).json() == {"status": "ok"}
    ready = await auth.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"mongo": "ok"}


async def test_request_id_is_echoed(auth):
    answer = await auth.get("/healthz", headers={"X-Request-ID": "abcdef123456"})
    assert answer.headers["X-Request-ID"] == "abcdef123456"


async def test_a_lone_surrogate_is_a_422_that_echoes_nothing(auth, caplog):
    """``"\\ud800"`` parses to a str that cannot be encoded: refused before it reaches the
    database, and the answer (FastAPI's would echo the input) can be encoded."""
    json_headers = {"content-type": "application/json"}
    for path, body in [
        ("/api/signin", rb'{"email":"a\ud800@x.io","password":"x-secret-1"}'),
        ("/api/signup", rb'{"email":"a\ud800@x.io","password":"x-secret-1"}'),
        ("/api/signup", rb'{"email":"a@x.io","password":"x-secret-1\udc00"}'),
    ]:
        answer = await auth.post(path, content=body, headers=json_headers)
        assert answer.status_code == 422, body
        (error,) = answer.json()["detail"]
        assert error["type"] == "string_unicode" and error["loc"][0] == "body", body
        assert "input" not in error and "x-secret-1" not in answer.text
    assert "x-secret-1" not in caplog.text
    # A surrogate pair is one character (U+1F600), not a lone surrogate.
    emoji = await auth.post(
        "/api/signin",
        content=rb'{"email":"\ud83d\ude00@x.io","password":"x"}',
        headers=json_headers,
    )
    assert emoji.status_code == 401


async def test_validation_errors_never_echo_what_was_sent(auth, caplog):
    for body in [
        {"email": "f@example.com", "password": "hunter2"},  # too short
        {"email": "hunter2-not-an-email", "password": "hunter2 hunter2"},
        {"email": "f@example.com", "password": ["hunter2"]},
    ]:
        answer = await auth.post("/api/signup", json=body)
        assert answer.status_code == 422, body
        assert answer.json()["detail"], body
        assert all("input" not in error for error in answer.json()["detail"]), body
        assert "hunter2" not in answer.text, body
    assert "hunter2" not in caplog.text


async def test_one_address_in_two_unicode_spellings_is_one_account(auth):
    composed, decomposed = "caf\u00e9@example.com", "cafe\u0301@example.com"
    created = await auth.post("/api/signup", json={"email": composed, "password": "password1"})
    assert created.status_code == 201 and created.json()["email"] == composed
    again = await auth.post("/api/signup", json={"email": decomposed, "password": "password2"})
    assert again.status_code == 409
    signed_in = await auth.post("/api/signin", json={"email": decomposed, "password": "password1"})
    assert signed_in.status_code == 200

    unicode_domain, ascii_domain = "g@B\u00fccher.example", "g@xn--bcher-kva.example"
    assert (
        await auth.post("/api/signup", json={"email": ascii_domain, "password": "password1"})
    ).status_code == 201
    assert (
        await auth.post("/api/signup", json={"email": unicode_domain, "password": "password1"})
    ).status_code == 409
    assert (
        await auth.post("/api/signin", json={"email": unicode_domain, "password": "password1"})
    ).status_code == 200
