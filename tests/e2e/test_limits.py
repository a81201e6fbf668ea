"""The per-user limits at their defaults, through a gateway: each refusal is a 429 as the
OpenAPI documents declare it (checked by Schemathesis: status, headers, body), with
``Retry-After`` and a message, and bad input is still refused for what it is.

The shared e2e stack lifts the limits (devstack/stack.py GENEROUS_LIMITS); here a service of
each kind runs on the defaults, on the stack's databases, behind a gateway of its own.
"""

import contextlib
import uuid

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devstack import ROOT
from devstack.processes import start_gateway, start_service
from devstack.stack import GENEROUS_LIMITS
from services import HTTP_SERVICES
from tests.support.users import User

DOCUMENTS = ROOT / "web" / "openapi"
POSTS_BURST, WRITES_BURST, STREAMS, FAILURES_BURST = 10, 60, 5, 5  # the settings' defaults
# What an answer must be, as documented (the request is not one Schemathesis generated).
AS_DOCUMENTED = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def gateway(stack, tmp_path_factory):
    """The three services on their default limits, behind a gateway of their own."""
    env = {k: v for k, v in stack.env.items() if k not in GENEROUS_LIMITS}
    env["CONSUME_EVENTS"] = "false"  # leave the stack's events to the stack's consumer
    started, upstreams = [], {}
    try:
        for service in HTTP_SERVICES:
            proc, url = start_service(
                f"limits-{service.name}",
                service.package,
                {**env, "MONGO_DB": stack.databases[service.name]},
            )
            started.append(proc)
            upstreams[service.name] = [url.removeprefix("http://")]
        proc, url = start_gateway(
            "limits-gateway", tmp_path_factory.mktemp("limits-gateway"), upstreams, "1000r/s"
        )
        started.append(proc)
        yield url
    finally:
        for proc in reversed(started):
            proc.stop()


def documented(service: str, path: str, method: str):
    return schemathesis.openapi.from_path(DOCUMENTS / f"{service}.json")[path][method]


def assert_documented_429(
    answer: httpx.Response, service: str, path: str, method: str, **path_parameters: str
) -> None:
    assert answer.status_code == 429, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.json()["detail"]
    case = documented(service, path, method).Case(path_parameters=path_parameters)
    case.validate_response(answer, checks=AS_DOCUMENTED)


def signed_in(gateway: str) -> User:
    user = User(gateway, f"limits-{uuid.uuid4().hex[:8]}@example.com")
    user.sign_up()
    return user.sign_in()


def test_posts_past_the_burst_are_a_documented_429(gateway):
    ann, bob = signed_in(gateway), signed_in(gateway)
    assert ann.http.post("/api/post", json={"text": ["not", "text"]}).status_code == 422
    for i in range(POSTS_BURST):  # bad input above took nothing from the burst
        ann.post(f"post {i}")
    refused = ann.http.post("/api/post", json={"text": "one too many"})
    assert_documented_429(refused, "post", "/api/post", "POST")
    assert bob.http.post("/api/post", json={"text": "mine"}).status_code == 201


def test_notification_writes_past_the_burst_are_a_documented_429(gateway):
    ann = signed_in(gateway)
    unknown_id = "0123456789abcdef01234567"
    unknown = f"/api/notification/{unknown_id}/read"
    # One more comes back every second while the burst is spent: go on until the refusal.
    answers = [ann.http.post(unknown) for _ in range(WRITES_BURST)]
    while answers[-1].status_code == 404 and len(answers) < 2 * WRITES_BURST:
        answers.append(ann.http.post(unknown))
    assert {answer.status_code for answer in answers[:WRITES_BURST]} == {404}
    refused = answers[-1]
    read = "/api/notification/{notification_id}/read"
    assert_documented_429(refused, "notification", read, "POST", notification_id=unknown_id)
    refused = ann.http.post("/api/notification", json={"post_id": "p"})
    assert_documented_429(refused, "notification", "/api/notification", "POST")


def test_streams_past_the_limit_are_a_documented_429(gateway):
    ann = signed_in(gateway)
    with contextlib.ExitStack() as held:
        for _ in range(STREAMS):
            stream = held.enter_context(ann.http.stream("GET", "/api/notification/stream"))
            assert stream.status_code == 200
        refused = ann.http.get("/api/notification/stream")
        assert_documented_429(refused, "notification", "/api/notification/stream", "GET")
        bob = signed_in(gateway)
        with bob.http.stream("GET", "/api/notification/stream") as stream:
            assert stream.status_code == 200


def test_failed_sign_ins_past_the_burst_are_a_documented_429(gateway):
    owner, other = signed_in(gateway), signed_in(gateway)
    wrong = {"email": owner.email, "password": "not the password"}
    http = httpx.Client(base_url=gateway, timeout=10)
    for _ in range(FAILURES_BURST):
        assert http.post("/api/signin", json=wrong).status_code == 401
    for body in (wrong, {"email": owner.email, "password": owner.password}):
        assert_documented_429(http.post("/api/signin", json=body), "auth", "/api/signin", "POST")
    other.sign_in()  # another account is not slowed
