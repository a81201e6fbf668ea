"""A 405's ``Allow`` header lists every method of the resource, as RFC 9110 requires.

Starlette answers a method a path does not take with the methods of the first route whose path
matched: ``GET /api/post`` and ``POST /api/post`` are two routes, so ``PUT /api/post`` was told
``Allow: POST`` only. This middleware puts in the methods the OpenAPI document lists for the path.
"""

import re
from collections.abc import Callable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class CompleteAllowHeader:
    """ASGI middleware: ``app.add_middleware(CompleteAllowHeader, openapi=app.openapi)``."""

    def __init__(self, app: ASGIApp, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self._openapi = openapi
        self._paths: list[tuple[re.Pattern[str], str]] | None = None

    def _allowed(self, path: str) -> str | None:
        document = self._openapi()
        if self._paths is None:  # the document is built once; so is this
            self._paths = [(compile_path(template)[0], template) for template in document["paths"]]
        for pattern, template in self._paths:
            if pattern.match(path):
                operations = document["paths"][template]
                return ", ".join(m.upper() for m in HTTP_METHODS if m in operations)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = self._allowed(scope["path"])
                if allowed:
                    MutableHeaders(scope=message)["Allow"] = allowed
            await send(message)

        await self.app(scope, receive, send_with_allow)
