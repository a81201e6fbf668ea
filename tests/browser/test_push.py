"""Push in a real browser, against 3 notification and 2 post replicas behind the gateway, with
the client's polling turned off: only the stream can bring the notification."""

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from devstack.processes import wait_until
from devstack.sse import StreamClient
from tests.browser.test_web import (
    PASSWORD,
    compose,
    expect_home_of,
    expect_unread,
    notifications_link,
    sign_up,
    unique_email,
    unique_text,
)
from tests.support.users import User

pytestmark = pytest.mark.browser

NO_POLLING = "window.localStorage.setItem('soflite:poll', 'off')"


@pytest.fixture(scope="module")
def app_url(web_build, replicated_stack) -> str:
    return replicated_stack.gateway


@contextmanager
def streams_held_on(urls: list[str], token: str) -> Iterator[list[StreamClient]]:
    """One stream per URL (a replica's own address), read on a thread of their own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(work):
        return asyncio.run_coroutine_threadsafe(work, loop).result(30)

    clients = [StreamClient(url, token, reconnect=False) for url in urls]
    try:
        for client in clients:
            run(client.__aenter__())
        yield clients
    finally:
        for client in clients:
            run(client.__aexit__(None, None, None))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_a_notification_reaches_another_browser_without_polling(
    open_page, replicated_stack, screenshot
):
    a_email, b_email = unique_email("a"), unique_email("b")
    a, b = open_page(), open_page()
    for page in (a, b):
        page.context.add_init_script(NO_POLLING)
    sign_up(a, a_email)
    expect_home_of(a, a_email)
    sign_up(b, b_email)
    expect_home_of(b, b_email)
    # Every earlier post on this stack is a notification for B: read them all, so that one more
    # shows on the badge (it stops at 99+), and let the page read the count again.
    bob = User(replicated_stack.gateway, b_email, PASSWORD).sign_in()
    assert bob.token is not None
    for notification in bob.notifications():
        assert bob.http.post(f"/api/notification/{notification['id']}/read").status_code == 204
    b.reload()
    notifications_link(b).click()
    expect(b.get_by_role("heading", name="Notifications")).to_be_visible()
    expect_unread(b, 0)

    replicas = [replicated_stack.urls[k] for k in replicated_stack.replicas("notification")]
    with streams_held_on(replicas[:2], bob.token) as held:
        text = unique_text("Pushed, not polled")
        post_id = compose(a, text)

        # B's badge and open list change in place: no reload, no poll.
        expect_unread(b, 1)
        expect(b.get_by_role("link", name=text)).to_be_visible()
        screenshot(b, "notifications-pushed")

        def each_has_it() -> bool:
            return all(post_id in client.times_pushed() for client in held)

        wait_until(each_has_it, 20, "both held streams got the notification")
        assert [client.times_pushed()[post_id] for client in held] == [1, 1]
