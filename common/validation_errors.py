"""How a 422 is answered: FastAPI's list of errors, without what the client submitted."""

import math
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def _encodable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode()


def without_input(error: Mapping[str, Any]) -> dict[str, Any]:
    """A validation error as answered: no ``input`` (the submitted value, a password say), no
    ``ctx`` value but plain JSON (a validator's ``ValueError``), and nothing that cannot be
    encoded."""
    public: dict[str, Any] = {
        "type": error["type"],
        "loc": [_encodable(part) if isinstance(part, str) else part for part in error["loc"]],
        "msg": _encodable(error["msg"]),
    }
    ctx = {
        key: _encodable(value) if isinstance(value, str) else value
        for key, value in error.get("ctx", {}).items()
        if isinstance(value, str | int) or (isinstance(value, float) and math.isfinite(value))
    }
    if ctx:
        public["ctx"] = ctx
    return public


async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """The exception handler for ``RequestValidationError``: each error ``without_input``."""
    return JSONResponse(
        {"detail": [without_input(error) for error in exc.errors()]}, status_code=422
    )
