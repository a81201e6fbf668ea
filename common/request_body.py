"""What a request body must be besides valid JSON: text only, no lone surrogates."""

import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

# In a parsed str, U+D800 to U+DFFF is a lone surrogate: not text, so it has no UTF-8 encoding.
_SURROGATE = re.compile(r"[\ud800-\udfff]")

Loc = tuple[str | int, ...]


def _lone_surrogate(value: Any) -> Loc | None:
    """Where in a parsed JSON value a string (or a key) holds a lone surrogate, if anywhere."""
    stack: list[tuple[Loc, Any]] = [((), value)]
    while stack:
        loc, item = stack.pop()
        if isinstance(item, str) and _SURROGATE.search(item):
            return loc
        if isinstance(item, dict):
            if any(_SURROGATE.search(key) for key in item):
                return loc
            stack.extend(((*loc, key), child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend(((*loc, index), child) for index, child in enumerate(item))
    return None


async def text_only(request: Request) -> None:
    """Refuse a JSON body with a lone surrogate (``"\\ud800"``), which Python's parser accepts:
    such a string could not be stored, nor encoded in an answer or a log line."""
    body = await request.body()
    if body.isascii() and b"\\u" not in body:
        return  # no escape and no raw non-ASCII byte: nothing can hide there
    try:
        value = await request.json()  # FastAPI's own parse, cached on the request
    except (ValueError, RecursionError):
        return  # not JSON: FastAPI answers that
    if (loc := _lone_surrogate(value)) is not None:
        raise RequestValidationError(
            [
                {
                    "type": "string_unicode",
                    "loc": ("body", *loc),
                    "msg": "Input should be a valid string, unable to parse raw data as a "
                    "unicode string",
                }
            ]
        )
