"""Each service's API docs (Swagger UI) in a real browser, through the gateway and its CSP.

The page, Swagger UI's script and stylesheet and the script that starts it all come from the
service itself: nothing from elsewhere, no inline script, so the gateway's Content-Security-
Policy (``default-src 'self'``) lets the page work, on a machine without internet too.
"""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# A path each document has, shown as an operation once Swagger UI has read the document.
KNOWN = {
    "auth": ["/api/signup", "/api/signin"],
    "post": ["/api/post", "/api/post/{post_id}"],
    "notification": ["/api/notification", "/api/notification/{notification_id}/read"],
}


@pytest.mark.parametrize("service", list(KNOWN))
def test_api_docs_list_the_operations_under_the_gateways_csp(
    open_page, app_url, screenshot, service
):
    page = open_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    # Violations are also events in the page: collect them from its start.
    page.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', e => "
        "window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )

    answer = page.goto(f"/api/{service}/docs")
    assert answer is not None and answer.ok
    assert "default-src 'self'" in (answer.headers.get("content-security-policy") or "")
    for path in KNOWN[service]:
        operation = page.locator(f".opblock .opblock-summary-path[data-path='{path}']")
        expect(operation.first).to_be_visible()
    assert page.locator(".opblock").count() >= len(KNOWN[service])
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Stack Overflow Lite")
    screenshot(page, f"api-docs-{service}")

    assert page.evaluate("window.cspViolations") == []
    assert console_errors == [] and page_errors == []
    assert hosts == {urlsplit(app_url).netloc}  # nothing loaded from anywhere else
