"""Swagger UI for a service's API, served by the service itself, its assets included.

FastAPI's default docs page loads Swagger UI from a CDN, which the gateway's Content-Security-
Policy (``default-src 'self'``) blocks, and which a machine without internet cannot reach. This
is FastAPI's "Self-hosting JavaScript and CSS for docs" (``docs_url=None`` and a docs route of
our own), with the Swagger UI files of the PyPI package ``fastapi-offline``, and one difference:
the script that starts Swagger UI is a file (``docs_static/swagger-init.js``), not the inline
``<script>`` that ``get_swagger_ui_html`` writes, which the same policy would block. Everything
is under the docs' own path (``/api/<service>/docs/static/...``), so the gateway routes it with
the API.
"""

import html

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

# Swagger UI's bundle, stylesheet and favicon ship in fastapi-offline's ``static`` folder.
ASSETS: list[str | tuple[str, str]] = [("fastapi_offline", "static"), ("common", "docs_static")]

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{static}/swagger-ui.css">
<link rel="icon" href="{static}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script src="{static}/swagger-init.js"></script>
</body>
</html>
"""


def add_docs(app: FastAPI, *, docs_url: str, openapi_url: str) -> None:
    """Swagger UI at ``docs_url`` for the document at ``openapi_url``, its files below
    ``{docs_url}/static/``. The app is made with ``docs_url=None`` (no CDN page)."""
    static = f"{docs_url}/static"
    app.mount(static, StaticFiles(packages=ASSETS), name="docs-static")
    page = _PAGE.format(
        title=html.escape(app.title),
        static=html.escape(static),
        openapi_url=html.escape(openapi_url),
    )

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page)
