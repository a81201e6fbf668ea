"""Each service's OpenAPI document, fuzzed through the gateway: the documents tell the truth.

Schemathesis reads each service's document (the committed ``web/openapi/<service>.json``, which
the gateway serves unchanged: checked below, and against the code by tests/drift) and sends
generated requests, valid and invalid, through the gateway as a signed-up user with a bearer
token. Every answer goes through all its checks: no server error; status, content type,
headers and body each as documented; invalid input refused, valid input accepted; 401 without
the token; 405 with an exact ``Allow`` for undeclared methods. The seed is fixed and the number
of cases bounded, so a run repeats itself exactly.
"""

import json
import time
import uuid

import httpx
import hypothesis
import pytest
import schemathesis

from devstack import ROOT
from services import HTTP_SERVICES
from tests.support.users import User

SERVICES = [service.name for service in HTTP_SERVICES]
DOCUMENTS = ROOT / "web" / "openapi"
SEED = 20261126
MAX_EXAMPLES = 50  # per operation, in the fuzzing phase (the coverage phase adds its own cases)
SCENARIOS = 15  # stateful: chains of calls, each answer feeding the next call (links)
# Sign-in and sign-up are paced below the stack's gateway limit on them (100 r/s, burst 10), so
# they are fuzzed rather than mostly answered 429 (which their documents declare).
CREDENTIALS_PAUSE = 0.02

CONFIG = {
    "seed": SEED,
    "generation": {
        "max-examples": MAX_EXAMPLES,
        "mode": "all",  # valid and invalid input
        "database": "none",  # nothing kept between runs: the seed alone decides
    },
    "checks": {"enabled": True},
    "operations": [
        # An endless stream: every valid request would wait out the read timeout. Its answers
        # (events, resuming, 401, 422) are tested in tests/e2e/test_push.py.
        {"include-path": "/api/notification/stream", "enabled": False},
        # Sign-up's schema and the service differ on two things JSON Schema cannot say. An
        # address at a special-use domain (`a@b.test`) has the `email` format but is refused by
        # email-validator (422). A password's limit is 8 to 72 bytes of UTF-8: the document's
        # pattern admits only passwords within it (tests/unit/test_passwords.py), so a mix of
        # widths that the pattern leaves out can still be 72 bytes at most, and taken (201).
        {
            "include-path": "/api/signup",
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "409", "422", "429"],
                },
                "negative_data_rejection": {
                    "expected-statuses": ["201", "400", "409", "415", "422", "429"],
                },
            },
        },
    ],
}

# The bearer token of the user the fuzzing acts as, once the `token` fixture has signed it in.
# The coverage phase's cases are made while pytest collects, before there is a stack: they
# carry PENDING, which the test swaps for the token.
_token: list[str] = []
PENDING = "pending-sign-in"


class Bearer:
    """Schemathesis' auth provider: it sends the token, and knows to leave it out of the cases
    that test a missing one (and of the check that 401 comes without it)."""

    def get(self, case, context) -> str:
        return _token[-1] if _token else PENDING

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def _schema(service: str) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_path(
        DOCUMENTS / f"{service}.json", config=schemathesis.Config.from_dict(CONFIG)
    )
    schema.auth(refresh_interval=None)(Bearer)
    return schema


@pytest.fixture(scope="module")
def token(stack) -> str:
    """The fuzzing user's token; someone else has posted, so it has a notification to find."""
    someone = User(stack.gateway, f"fuzz-other-{uuid.uuid4().hex[:8]}@example.com")
    someone.sign_up()
    someone.sign_in().post("for the fuzzer's notifications", code="print(1)", language="python")
    user = User(stack.gateway, f"fuzz-{uuid.uuid4().hex[:8]}@example.com")
    user.sign_up()
    _token.append(user.sign_in().token or "")
    return _token[-1]


@pytest.mark.parametrize("service", SERVICES)
def test_the_gateway_serves_the_documents_that_are_fuzzed(stack, service):
    served = httpx.get(f"{stack.gateway}/api/{service}/openapi.json", timeout=10)
    assert served.json() == json.loads((DOCUMENTS / f"{service}.json").read_text())


@schemathesis.pytest.parametrize(**{service: _schema(service) for service in SERVICES})
def test_every_answer_is_as_documented(case, stack, token):
    if case.headers and case.headers.get("Authorization") == f"Bearer {PENDING}":
        case.headers["Authorization"] = f"Bearer {token}"
    if "auth" in (case.operation.tags or []):
        time.sleep(CREDENTIALS_PAUSE)
    case.call_and_validate(base_url=stack.gateway, timeout=10)


@pytest.mark.parametrize("service", ["post", "notification"])
def test_chained_calls_are_as_documented(stack, token, service):
    """Stateful: Schemathesis links answers to calls by the documents' schemas (a created post's
    ``id`` to ``GET /api/post/{post_id}``, a notification's ``id`` to marking it read, its
    ``post_id`` to ``POST /api/notification``) and runs chains of them, checking every answer."""

    class Scenarios(_schema(service).as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):
            return {"base_url": stack.gateway, "timeout": 10}

    hypothesis.seed(SEED)(Scenarios)
    Scenarios.run(
        settings=hypothesis.settings(
            max_examples=SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
