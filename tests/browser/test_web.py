"""The web client in a real browser, through the gateway, against the whole real system.

What a person sees: signing up and in, posting code, reading others' posts, the unread badge
that updates on its own, and opening a notification onto the exact code that was posted. Every
page it reads (sign-up, sign-in, Home, a post, Notifications, Home on a phone) passes axe-core.
"""

import re
import uuid

import pytest
from playwright.sync_api import Dialog, Page, expect

from devstack.processes import wait_until
from post_service.use_cases import code_preview
from tests.support.users import User

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
# Markup, an ampersand, both quotes and nested indentation: shown exactly, as text, or not at all.
CODE = (
    "def greet(name: str) -> str:\n"
    '    if name and "<" not in name:\n'
    "        return f\"<b>{name}</b> & 'friends'\"\n"
    '    return "<img src=x onerror=alert(1)>"\n'
)
PHONE = {"width": 375, "height": 740}


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"


def unique_text(what: str) -> str:
    return f"{what} ({uuid.uuid4().hex[:6]})"


def sign_up(page: Page, email: str, screenshot=None, accessible=None) -> None:
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    if screenshot:
        screenshot(page, "signup")
    if accessible:
        accessible(page)
    page.get_by_role("button", name="Sign up").click()


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def expect_home_of(page: Page, email: str) -> None:
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))
    expect(page.get_by_role("banner")).to_contain_text(email)
    expect(page.get_by_role("heading", name="Latest posts")).to_be_visible()


def compose(page: Page, text: str, code: str | None = None, language: str = "python") -> str:
    """Posts through the composer on Home; returns the new post's id."""
    page.get_by_label("Your question or note").fill(text)
    if code is not None:
        page.get_by_label("Code (optional)").fill(code)
        page.get_by_label("Language").select_option(language)
    page.get_by_role("button", name="Post", exact=True).click()
    view_it = page.get_by_role("link", name="View your post")
    expect(view_it).to_have_attribute("href", re.compile(r"^/posts/\w+$"))
    href = view_it.get_attribute("href")
    assert href is not None
    return href.removeprefix("/posts/")


def feed(page: Page):
    return page.get_by_role("region", name="Latest posts")


def expect_feed_loaded(page: Page) -> None:
    first_item = feed(page).get_by_role("article").first
    expect(first_item.or_(feed(page).get_by_text("No posts yet"))).to_be_visible()
    expect(feed(page).locator("[aria-busy]")).to_have_attribute("aria-busy", "false")


def notifications_link(page: Page):
    top_bar = page.get_by_role("navigation", name="Main")
    return top_bar.get_by_role("link", name=re.compile("^Notifications"))


def expect_unread(page: Page, count: int, timeout: float = 10_000) -> None:
    name = f"Notifications {count} unread" if count else "Notifications"
    expect(notifications_link(page)).to_have_accessible_name(name, timeout=timeout)


def test_two_people_post_see_each_others_code_and_follow_a_notification_to_it(
    open_page, app_url, screenshot, accessible
):
    a_email, b_email = unique_email("a"), unique_email("b")
    a, b = open_page(), open_page()
    dialogs: list[str] = []  # an alert() here would mean posted markup ran as HTML

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    for page in (a, b):
        page.on("dialog", on_dialog)

    # A signs up through the form, lands on Home and posts a Python snippet.
    sign_up(a, a_email, screenshot, accessible)
    expect_home_of(a, a_email)
    first_text = unique_text("How do I greet safely in Python?")
    first_id = compose(a, first_text, CODE, "python")

    # B signs up and sees A's post on Home: its text and its code preview, highlighted.
    sign_up(b, b_email)
    expect_home_of(b, b_email)
    item = feed(b).get_by_role("article").filter(has_text=first_text)
    expect(item).to_contain_text(a_email)
    preview = item.get_by_label("Python code").locator("code")
    expect(preview).to_have_class(re.compile(r"\bhljs\b.*\blanguage-python\b"))
    expect(preview.locator("span.hljs-keyword").first).to_be_visible()
    assert preview.text_content() == code_preview(CODE)

    # B's badge counts up on its own, without a reload, when A posts again.
    b_api = User(app_url, b_email, PASSWORD).sign_in()
    wait_until(
        lambda: first_id in [n["post_id"] for n in b_api.notifications()],
        10,
        "B's notification of A's first post",
        every=0.05,
    )
    unread = b_api.http.get("/api/notification/unread-count").json()["count"]
    expect_unread(b, unread)
    b.evaluate("() => { window.stillTheSamePage = true }")
    second_text = unique_text("And in Rust?")
    second_id = compose(a, second_text)
    expect_unread(b, unread + 1, timeout=15_000)
    assert b.evaluate("() => window.stillTheSamePage") is True
    screenshot(b, "home")
    accessible(b)

    # B opens Notifications and follows the one for A's first post onto the exact code.
    notifications_link(b).click()
    expect(b).to_have_url(f"{app_url}/notifications")
    expect(b.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    entries = b.get_by_role("main").get_by_role("link")
    newer = entries.filter(has_text=second_text)
    expect(newer).to_contain_text("Unread")
    expect(newer).to_have_attribute("href", f"/posts/{second_id}")
    note = entries.filter(has_text=first_text)
    expect(note).to_contain_text(a_email)
    expect(note).to_contain_text("Unread")
    screenshot(b, "notifications")
    accessible(b)
    note.click()

    expect(b).to_have_url(f"{app_url}/posts/{first_id}")
    post = b.get_by_role("article")
    expect(post).to_contain_text(first_text)
    expect(post).to_contain_text(a_email)
    code = post.get_by_label("Python code").locator("code")
    expect(code.locator("span.hljs-string").first).to_be_visible()
    assert code.text_content() == CODE
    assert code.locator("img, script, b").count() == 0
    expect_unread(b, unread)  # opening it marked it read
    screenshot(b, "post")
    accessible(b)

    # A's own Home never shows A's own posts.
    a.goto("/")
    expect_home_of(a, a_email)
    expect_feed_loaded(a)
    expect(feed(a).get_by_text(first_text)).to_have_count(0)
    expect(feed(a).get_by_text(second_text)).to_have_count(0)
    assert dialogs == []


def test_a_wrong_password_is_refused_on_the_sign_in_page(
    open_page, app_url, screenshot, accessible
):
    email = unique_email("forgetful")
    User(app_url, email, PASSWORD).sign_up()
    page = open_page()
    page.goto("/signin")

    sign_in(page, email, password="not my password")

    expect(page.get_by_role("alert")).to_have_text("invalid email or password")
    expect(page).to_have_url(f"{app_url}/signin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("banner")).to_have_count(0)
    screenshot(page, "signin-error")
    accessible(page)


def test_visitors_who_are_not_signed_in_are_sent_to_sign_in_and_then_where_they_were_going(
    open_page, app_url
):
    email = unique_email("returning")
    User(app_url, email, PASSWORD).sign_up()
    page = open_page()

    page.goto("/")
    expect(page).to_have_url(f"{app_url}/signin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.goto("/notifications")
    expect(page).to_have_url(re.compile(r"/signin\?redirect=(/|%2F)notifications$"))
    sign_in(page, email)
    expect(page).to_have_url(f"{app_url}/notifications")
    expect(page.get_by_role("banner")).to_contain_text(email)


def test_home_fits_a_phone_screen(open_page, app_url, screenshot, accessible):
    author = User(app_url, unique_email("author"))
    author.sign_up(), author.sign_in()
    text = unique_text("A long line of code should scroll inside its box, not the page")
    author.post(text, code="print('" + "wide " * 40 + "')\n", language="python")
    reader = unique_email("phone")
    User(app_url, reader, PASSWORD).sign_up()
    page = open_page(viewport=PHONE)

    page.goto("/signin")
    sign_in(page, reader)

    expect_home_of(page, reader)
    expect(feed(page).get_by_role("article").filter(has_text=text)).to_be_visible()
    page_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert page_width <= PHONE["width"], f"Home is {page_width}px wide on a 375px phone"
    bar = page.get_by_role("banner")
    line = bar.get_by_role("link", name="SO Lite").bounding_box()  # what a phone shows
    button = bar.get_by_role("button", name="Sign out").bounding_box()
    assert line is not None and button is not None
    assert abs(line["y"] - button["y"]) < line["height"], "the top bar wraps on a phone"
    expect(bar).to_contain_text(reader)  # still there for screen readers
    screenshot(page, "home-phone")
    accessible(page)
