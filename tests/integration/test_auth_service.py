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
