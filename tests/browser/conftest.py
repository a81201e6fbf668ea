"""Debian's Chromium, driven by Playwright's sync API, against the whole system behind its gateway.

Every page a test opens gets its own browser context (its own localStorage, so its own signed-in
person). Screenshots go to .artifacts/screenshots/; with SOL_UPDATE_DOCS_SCREENSHOTS=1 the
ones the README shows are also copied to docs/screenshots/. Each page a person reads is checked
by axe-core (web/node_modules/axe-core, no CDN): no serious or critical violation.
"""

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from devstack import ROOT
from devstack.processes import ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
# Nothing in the background: no updates, no sync, no QUIC; no GPU or sandbox in a container.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WEB_INDEX = ROOT / "web" / "dist" / "index.html"
SCREENSHOTS = ARTIFACTS / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
DOCS_MAX_BYTES = 150_000  # committed to git: keep them small
DOCS_SET = {"signup", "signin-error", "home", "notifications", "post", "home-phone"}

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")  # axe's two highest impacts: barriers, not nuisances

DESKTOP: ViewportSize = {"width": 1100, "height": 800}

# Long enough for a slow machine, short enough that a broken page fails fast.
expect.set_options(timeout=10_000)

FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest.fixture(scope="session")
def web_build() -> Path:
    """The built client the gateway serves; missing means a broken set-up, not a skip."""
    if not WEB_INDEX.is_file():
        pytest.fail(
            f"{WEB_INDEX.relative_to(ROOT)} is missing: build the web client first "
            "(`cd web && npm ci && npm run build`; `make test` does it)",
            pytrace=False,
        )
    return WEB_INDEX.parent


@pytest.fixture(scope="session")
def app_url(web_build, stack) -> str:
    """Where a person types the address: the gateway, serving the app and the API."""
    return stack.gateway


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    # Module scope: Playwright's own event loop is gone before any asyncio test runs.
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `scripts/system-deps.sh --browser` "
            "(never `playwright install`)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium, app_url, request) -> Iterator[Callable[..., Page]]:
    """``open_page(viewport=DESKTOP)``: a page in a fresh context, as a new visitor would have.
    When the test fails, each page's last state is saved as failed-<test>-<n>.png."""
    contexts = []

    def open_(viewport: ViewportSize = DESKTOP) -> Page:
        context = chromium.new_context(base_url=app_url, viewport=viewport)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_
    for number, context in enumerate(contexts, 1):
        if request.node.stash.get(FAILED, False):
            for page in context.pages:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                path = SCREENSHOTS / f"failed-{request.node.name}-{number}.png"
                page.screenshot(path=path, full_page=True)
        context.close()


@pytest.fixture(scope="session")
def screenshot() -> Callable[[Page, str], Path]:
    """``screenshot(page, name)``: the whole page, at CSS pixels to keep the files small."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    to_docs = os.environ.get("SOL_UPDATE_DOCS_SCREENSHOTS") == "1"

    def take(page: Page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=path, full_page=True, type="png", scale="css", animations="disabled")
        if to_docs and name in DOCS_SET:
            size = path.stat().st_size
            assert size < DOCS_MAX_BYTES, f"{path.name} is {size} bytes: too big for the README"
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
        return path

    return take


@pytest.fixture(scope="session")
def accessible() -> Callable[[Page], None]:
    """``accessible(page)``: axe-core's rules (WCAG 2 A and AA, best practices) find no serious
    or critical violation on the page as it is now; the assertion lists each one found."""
    if not AXE.is_file():
        pytest.fail(f"{AXE.relative_to(ROOT)} is missing: `cd web && npm ci`", pytrace=False)
    source = AXE.read_text()

    def check(page: Page) -> None:
        # Evaluated through the DevTools protocol, which the gateway's CSP (no inline script,
        # nothing from elsewhere) does not govern: the page is tested as it is served.
        if not page.evaluate("() => 'axe' in window"):
            page.evaluate(source)
        violations = page.evaluate(
            """async (impacts) => (await axe.run(document, {resultTypes: ['violations']}))
                .violations.filter((v) => impacts.includes(v.impact))
                .map((v) => ({id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
                    nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`)}))""",
            list(SERIOUS),
        )
        found = "\n".join(
            f"{v['impact']} {v['id']}: {v['help']} ({v['url']})\n  " + "\n  ".join(v["nodes"])
            for v in violations
        )
        assert not violations, f"axe-core on {page.url}:\n{found}"

    return check
