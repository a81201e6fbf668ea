"""The product through its one entry point, the nginx gateway, with every part real."""

import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from pymongo import MongoClient

from auth_service.tokens import TokenIssuer
from devstack.processes import wait_until
from services import HTTP_SERVICES
from tests.conftest import AUDIENCE, ISSUER
from tests.support.users import User

CODE = 'fn main() {\n    println!("<script>alert(1)</script> & \\u{1F600}");\n}\n'


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"


def test_two_users_post_notify_open_read_and_clean(stack, mongo_url):
    a, b = User(stack.gateway, unique_email("a")), User(stack.gateway, unique_email("b"))
    a.sign_up()
    b_id = b.sign_up()["id"]
    a.sign_in(), b.sign_in()

    posted_at = time.monotonic()
    post = a.post("How do I print in Rust?", code=CODE, language="rust")
    assert post["code"] == CODE

    feed_b = b.feed()
    assert post["id"] in [p["id"] for p in feed_b]
    assert post["id"] not in [p["id"] for p in a.feed()]

    def notified():
        return next((n for n in b.notifications() if n["post_id"] == post["id"]), None)

    note = wait_until(notified, 10, "B notified of A's post", every=0.05)
    print(f"post to notification through the gateway: {time.monotonic() - posted_at:.3f}s")
    assert note["author_email"] == a.email and note["read"] is False
    assert post["id"] not in [n["post_id"] for n in a.notifications()]

    opened = b.http.get(f"/api/post/{note['post_id']}")
    assert opened.status_code == 200
    assert opened.json()["code"] == CODE

    assert b.http.post(f"/api/notification/{note['id']}/read").status_code == 204
    assert next(n for n in b.notifications() if n["id"] == note["id"])["read"] is True

    stack.start_cleaner(max_age=1, interval=1)
    try:
        wait_until(lambda: notified() is None, 30, "the cleaner deleted the notification")
        mongo: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
        reads = mongo[stack.databases["notification"]]["reads"]
        # The same run deletes the read state next (its log line comes once it is done).
        wait_until(lambda: reads.count_documents({"user_id": b_id}) == 0, 30, "read state gone")
        worker = stack.processes["cleaner-worker"]
        wait_until(lambda: "old notifications deleted" in worker.log_text(), 30, "a run logged")
        beat_log = stack.processes["cleaner-beat"].log_text()
        assert "cleaner.delete_old_notifications" in beat_log
    finally:
        for name in ("cleaner-beat", "cleaner-worker"):
            stack.processes.pop(name).stop()


def test_one_request_can_be_followed_from_gateway_to_stored_notification(stack):
    a = User(stack.gateway, unique_email("a"))
    a.sign_up(), a.sign_in()
    answer = a.http.post("/api/post", json={"text": "trace me"})
    request_id = answer.headers["X-Request-ID"]
    post_id = answer.json()["id"]

    def traced():
        log = stack.processes["notification"].log_text()
        return any(
            request_id in line and post_id in line and "notification stored" in line
            for line in log.splitlines()
        )

    wait_until(traced, 10, "the consumer's log line carrying the gateway's request id")
    assert request_id in stack.processes["gateway"].log_text()
    assert any(
        request_id in line and "post created" in line
        for line in stack.processes["post"].log_text().splitlines()
    )


def test_bad_input_gets_a_4xx_never_a_500(stack, keys):
    gateway = httpx.Client(base_url=stack.gateway, timeout=10)
    user = User(stack.gateway, unique_email("bad"))
    user.sign_up(), user.sign_in()
    json_headers = {"content-type": "application/json"}

    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", "/api/signup", {"content": b"{not json", "headers": json_headers}, 422),
        ("POST", "/api/signup", {"json": {"email": 5, "password": ["x"]}}, 422),
        ("POST", "/api/signup", {"json": {"email": {"$gt": ""}, "password": "password1"}}, 422),
        ("POST", "/api/signin", {"json": {"email": {"$gt": ""}, "password": {"$ne": 1}}}, 422),
        ("POST", "/api/signup", {"json": {"email": unique_email("x"), "password": "y" * 73}}, 422),
        ("POST", "/api/signin", {"json": {"email": user.email, "password": "y" * 73}}, 401),
    ]
    for method, path, kwargs, expected in cases:
        answer = gateway.request(method, path, **kwargs)
        assert answer.status_code == expected, (path, kwargs, answer.text)
        assert answer.json()["detail"]

    authed: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", "/api/post", {"content": b'{"text": ', "headers": json_headers}, 422),
        ("POST", "/api/post", {"json": {"text": ["not", "text"]}}, 422),
        ("POST", "/api/post", {"json": {"text": "t", "code": "x" * (64 * 1024 + 1)}}, 413),
        ("POST", "/api/post", {"json": {"text": "t", "code": "x" * (300 * 1024)}}, 413),
        ("GET", "/api/post/not-an-id", {}, 404),
        ("GET", "/api/post?limit=-1", {}, 422),
        ("GET", "/api/notification?cursor=%7B%22%24gt%22%3A1%7D", {}, 422),
        ("POST", "/api/notification/zzz/read", {}, 404),
        ("GET", "/api/nowhere", {}, 404),
    ]
    for method, path, kwargs, expected in authed:
        answer = user.http.request(method, path, **kwargs)
        assert answer.status_code == expected, (path, answer.status_code, answer.text[:200])

    # Signed with the real key, but expired; unsigned (alg: none); signature altered.
    expired = TokenIssuer(keys.private.read_bytes(), ISSUER, AUDIENCE, timedelta(seconds=-30)).mint(
        "u", "u@example.com"
    )
    assert user.token is not None  # signed in above
    none_alg = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + user.token.split(".")[1] + "."
    forged = user.token[:-4] + ("AAAA" if not user.token.endswith("AAAA") else "BBBB")
    for token in [expired, none_alg, forged, "garbage"]:
        for path in ["/api/post", "/api/notification", "/api/notification/unread-count"]:
            answer = gateway.get(path, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401, (token[:20], path)


def test_gateway_slows_down_password_guessing(stack):
    strict = stack.start_gateway("strict-gateway", rate_limit="1r/s")
    try:
        body = {"email": "nobody@example.com", "password": "guess-guess"}
        codes = [
            httpx.post(f"{strict}/api/signin", json=body, timeout=10).status_code for _ in range(25)
        ]
    finally:
        stack.processes.pop("strict-gateway").stop()
    assert codes[0] == 401
    assert codes.count(429) >= 10  # 1 r/s with a burst of 10: the rest are refused


def test_gateway_serves_api_docs_and_security_headers(stack):
    gateway = httpx.Client(base_url=stack.gateway, timeout=10)
    for service in HTTP_SERVICES:
        assert gateway.get(f"{service.route}/docs").status_code == 200
        spec = gateway.get(f"{service.route}/openapi.json")
        assert spec.status_code == 200
        assert all(
            path.startswith(("/api/", "/healthz", "/readyz")) for path in spec.json()["paths"]
        )
    answer = gateway.get("/healthz")
    for header in (
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Content-Security-Policy",
        "Referrer-Policy",
        "X-Request-ID",
    ):
        assert header in answer.headers, header
    assert "nginx/" not in answer.headers.get("server", "")


def test_every_service_reports_health_and_readiness(stack):
    for service in ("auth", "post", "notification"):
        assert httpx.get(f"{stack.urls[service]}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{stack.urls[service]}/readyz")
        assert ready.status_code == 200, (service, ready.text)
