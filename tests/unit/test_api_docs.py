"""The API docs page and its files come from the service itself: no CDN, no inline script."""

import re

import httpx
import pytest

from services import HTTP_SERVICES

APPS = {service.name: service.create_app for service in HTTP_SERVICES}


@pytest.mark.parametrize("service", list(APPS))
async def test_docs_page_loads_only_its_own_files(service):
    transport = httpx.ASGITransport(app=APPS[service]())  # built, not started: no database
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        page = await client.get(f"/api/{service}/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        # Every script is a file (the gateway's CSP runs no inline script) ...
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
        assert len(scripts) == 2
        assert all("src=" in attributes and not body.strip() for attributes, body in scripts)
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert len(assets) == 4  # the stylesheet, the icon, Swagger UI, the script starting it
        # ... and every file is the service's own, under its docs path, where the gateway goes.
        for url in assets:
            assert url.startswith(f"/api/{service}/docs/static/"), url
            answer = await client.get(url)
            assert answer.status_code == 200, url
        assert f'data-openapi-url="/api/{service}/openapi.json"' in html
        assert (await client.get(f"/api/{service}/docs/static/nope.js")).status_code == 404
