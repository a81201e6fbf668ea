"""The error body every service answers with, and its place in the OpenAPI documents.

Every error but a validation error is ``{"detail": "..."}`` (``HTTPException`` and our
handlers); 422 validation errors are FastAPI's list of fields (``HTTPValidationError``), which
FastAPI documents by itself. Routes declare every other non-2xx answer in ``responses`` with
``error_response``, so the documents say what the services really answer.
"""

import math
from datetime import timedelta
from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    """An error: ``{"detail": "a sentence for people"}``."""

    detail: str


ResponsesDoc = dict[int | str, dict[str, Any]]


def error_response(description: str, **extra: Any) -> dict[str, Any]:
    """One entry of a route's ``responses``: an ``ErrorDetail`` body, described."""
    return {"model": ErrorDetail, "description": description, **extra}


# A refusal that says when to come back: a limit's 429 (common/limits.py), a busy replica's 503
# (common/admission.py).
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}


class RetryLater(Exception):
    """A refusal that stored nothing and says when to come back: answered ``status`` with
    ``{"detail": message}`` and ``Retry-After`` (common/service.py)."""

    status = 503

    def __init__(self, message: str, retry_after: timedelta) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds, rounded up, at least 1: the ``Retry-After`` header."""
        return max(1, math.ceil(self.retry_after.total_seconds()))


def retry_later(status: int, description: str) -> ResponsesDoc:
    """A route's ``responses`` entry for a refusal answered with ``Retry-After``."""
    return {status: error_response(description, headers=RETRY_AFTER)}


# What every operation that takes a body can answer besides 422: FastAPI's 400 when the body
# cannot be read at all (its bytes are not UTF-8), before validation; the gateway's 413 for a
# body over its limit (client_max_body_size), before any service.
BODY_ERRORS: ResponsesDoc = {
    400: error_response("The body could not be read (it is not UTF-8 text)"),
    413: error_response("The body is over 256 KiB (the gateway's limit)"),
}

# ``ConnectionFailure`` anywhere in a request is answered 503 (common/service.py).
DATABASE_UNAVAILABLE: ResponsesDoc = {
    503: error_response("The database is unavailable; try again"),
}
