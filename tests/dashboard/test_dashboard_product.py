"""The dashboard as a first-time user meets it: row actions and one key a line at 1280 px,
words instead of enums, focus where the next step is, what a roll left behind, the Security
view's browsers and labels, and the small things (copy buttons, stale banners, empty states)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import FloatRect, Locator, Page, expect

from harness.journey import (
    PASSWORD,
    SPOT_PATH,
    Recorder,
    account_with_two_factor,
    api_key_for,
    delete_key,
    key_id_of,
    next_code,
    partner_request,
    register,
    rename_key,
    roll_key,
    sign_in,
    verifier_token,
)
from harness.live_server import LiveServer

pytestmark = pytest.mark.browser

RAW_ENUM = re.compile(r"\b[A-Z]{2,}_[A-Z_]{2,}\b")


def clipboard(page: Page) -> str:
    text: str = page.evaluate("() => navigator.clipboard.readText()")
    return text


def allow_clipboard(page: Page, server: LiveServer) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)


def box(locator: Locator) -> FloatRect:
    found = locator.bounding_box()
    assert found is not None
    return found


def test_each_row_has_its_actions_and_one_key_keeps_to_one_line_at_1280_px(
    page: Page, server: LiveServer
) -> None:
    email, seed, token = account_with_two_factor(server)
    api_key_for(
        server,
        token,
        seed,
        "market maker for the spot and futures desks",
        scopes=["SPOT_WRITE", "SPOT_READ", "FUTURES_READ", "WALLET_READ", "WITHDRAW"],
        ipAllowlist=["2001:db8:abcd:12::/64", "198.51.100.0/24", "203.0.113.7"],
    )
    api_key_for(server, token, seed, "reporting")
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, server, email, seed)

    rows = page.get_by_role("table", name="Your API keys").locator("tbody tr")
    expect(rows).to_have_count(2)
    line = box(rows.last)["height"]
    for n in range(2):
        row = rows.nth(n)
        for name in ("Edit", "Roll secret", "Delete"):
            expect(row.get_by_role("button", name=name, exact=True)).to_be_visible()
        assert box(row)["height"] <= line * 1.2  # no cell wraps onto a second line
    wide = page.locator(".table-wrap")
    assert wide.evaluate("w => w.scrollWidth <= w.clientWidth")  # nothing scrolled off
    busy = rows.filter(has_text="market maker")
    first = busy.locator("ul.tags li").first
    expect(first.get_by_text("Withdraw", exact=True)).to_be_visible()  # the riskiest first
    # A new key's WITHDRAW cools off: marked pending, with when, in words screen readers read.
    expect(first).to_contain_text(re.compile(r"pending: takes effect \w+"))
    expect(busy).to_contain_text("Futures: read")  # the rest named for screen readers

    busy.get_by_role("button", name="Roll secret").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Google Authenticator code").fill(next_code(server, seed))
    expect(page.get_by_role("button", name="Roll secret")).to_have_count(2)  # the rows only
    dialog.get_by_role("button", name="Roll now").click()
    expect(dialog.get_by_label("Secret key")).not_to_be_empty()
    dialog.get_by_role("button", name="Done").click()
    expect(page.get_by_role("status").filter(has_text="Rolled the secret")).to_be_visible()


def test_a_widening_edit_moves_focus_to_the_code_field_and_brings_it_into_view(
    page: Page, server: LiveServer
) -> None:
    email, seed, token = account_with_two_factor(server)
    api_key_for(server, token, seed, "widen-me")
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, server, email, seed)
    row = page.get_by_role("row").filter(has_text="widen-me")
    row.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Margin: trade").check()
    dialog.get_by_role("button", name="Save changes").click()

    code = dialog.get_by_label("Google Authenticator code")
    expect(code).to_be_focused()
    expect(code).to_be_in_viewport()
    description = code.get_attribute("aria-describedby") or ""
    expect(page.locator(f"#{description.split()[0]}")).to_contain_text("widens")
    page.keyboard.type(next_code(server, seed))
    page.keyboard.press("Enter")
    expect(page.locator("dialog")).to_have_count(0)
    expect(row).to_contain_text("Margin: trade")


def test_the_key_page_uses_words_and_after_a_roll_marks_and_counts_the_old_secret(
    page: Page, server: LiveServer
) -> None:
    email, seed, token = account_with_two_factor(server)
    key, old = api_key_for(server, token, seed, "rolled")
    verifier = verifier_token(server)
    assert partner_request(server, verifier, key, old, client_ip="127.0.0.1", path=SPOT_PATH)
    new = roll_key(server, token, seed, key_id_of(server, token, key))
    for secret in (old, old, new):
        decision = partner_request(
            server, verifier, key, secret, client_ip="127.0.0.1", path=SPOT_PATH
        )
        assert decision == "VALID"
    sign_in(page, server, email, seed)
    page.get_by_role("link", name="rolled").click()

    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Spot: read")
    expect(facts).to_contain_text("Active")
    expect(facts).not_to_contain_text(RAW_ENUM)
    use = page.locator("#previous-secret-use")
    expect(use).to_have_text(re.compile(r"^2 requests since the roll"))

    logs = page.get_by_role("table", name="Usage logs, newest first")
    expect(logs.get_by_role("row")).to_have_count(5)
    expect(logs.get_by_text("Previous secret")).to_have_count(2)
    expect(logs.locator("tbody tr").first).to_contain_text("New secret")
    expect(logs.locator("tbody tr").last).not_to_contain_text("secret")  # before the roll
    expect(logs.locator("tbody time").first).to_have_text(re.compile(r"\d:\d\d:\d\d"))
    expect(logs.locator("tbody tr").first).to_contain_text("Allowed")
    expect(logs.locator("tbody tr").first).to_contain_text("VALID")
    use.get_by_role("button", name="show them").click()
    expect(logs.get_by_role("row")).to_have_count(3)
    expect(page.get_by_label("Signed with")).to_have_value("previous")


def test_copy_buttons_copy_the_whole_identifier_and_setup_key(
    page: Page, server: LiveServer
) -> None:
    allow_clipboard(page, server)
    email, seed, token = account_with_two_factor(server)
    key, _ = api_key_for(server, token, seed, "copy-me")
    sign_in(page, server, email, seed)
    row = page.get_by_role("row").filter(has_text="copy-me")
    identifier = row.locator(".key-id code")
    expect(identifier).to_have_attribute("title", key)
    assert identifier.evaluate("c => c.scrollWidth > c.clientWidth")  # shortened on screen
    row.get_by_role("button", name="Copy identifier").click()
    assert clipboard(page) == key

    page.get_by_role("button", name="Sign out").click()
    fresh = register(server)
    page.get_by_label("Email").fill(fresh)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Turn on two-factor authentication")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Set up authenticator").click()
    setup_key = page.get_by_label("Setup key")
    text = setup_key.inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", text)  # the element's text is the key itself
    groups = setup_key.locator("span")
    expect(groups).to_have_count((len(text) + 3) // 4)
    expect(groups.first).to_have_text(text[:4])
    page.get_by_role("button", name="Copy", exact=True).click()
    assert clipboard(page) == text

    enable = page.get_by_role("button", name="Enable")
    before = box(enable)
    page.get_by_label("Authentication code").fill("000000")
    enable.click()
    expect(page.locator("#twofactor-code-error")).not_to_be_empty()
    assert box(enable) == before  # the error appears below without moving the button


def test_turn_off_two_factor_is_disabled_with_the_reason_while_live_keys_exist(
    page: Page, server: LiveServer
) -> None:
    email, seed, token = account_with_two_factor(server)
    key, _ = api_key_for(server, token, seed, "keeps-2fa-on")
    sign_in(page, server, email, seed)
    page.get_by_role("link", name="Security").click()
    section = page.get_by_role("region", name="Turn off two-factor authentication")
    button = section.get_by_role("button", name="Turn off two-factor")
    expect(button).to_be_disabled()
    expect(button).to_have_accessible_description(re.compile("1 live key"))

    delete_key(server, token, key_id_of(server, token, key))
    page.reload()
    expect(button).to_be_enabled()
    section.get_by_label("Password").fill(PASSWORD)
    section.get_by_label("Authentication code").fill(next_code(server, seed))
    button.click()
    expect(page.get_by_role("heading", name="Turn on two-factor authentication")).to_be_visible()


def test_the_security_view_names_browsers_and_keeps_each_events_label(
    page: Page, server: LiveServer, recorder: Recorder
) -> None:
    email, seed, token = account_with_two_factor(server)
    key, _ = api_key_for(server, token, seed, "desk bot")
    rename_key(server, token, key_id_of(server, token, key), "desk bot spot")
    sign_in(page, server, email, seed)
    agent: str = page.evaluate("() => navigator.userAgent")
    page.get_by_role("link", name="Security").click()

    sessions = page.get_by_role("table", name="Where you are signed in")
    mine = sessions.locator("tr").filter(has_text="This browser")
    browser = mine.locator(".agent-name")
    expect(browser).to_have_text(re.compile(r"^Chrome\b.* on Linux$"))
    expect(browser).to_have_attribute("title", agent)
    badge = mine.get_by_text("This browser")
    assert box(badge)["height"] < 2 * box(browser)["height"]  # one line

    events = page.get_by_role("table", name="Security events, newest first")
    expect(events.get_by_role("link", name="Key created: desk bot", exact=True)).to_be_visible()
    expect(events.get_by_role("link", name="Key changed: desk bot spot")).to_be_visible()
    expect(events).not_to_contain_text(RAW_ENUM)
    assert recorder.csp_violations() == []  # the user-agent parser needs no exception


def test_a_wrong_code_at_sign_in_clears_the_stale_signed_out_banner(
    page: Page, server: LiveServer
) -> None:
    email, seed, _ = account_with_two_factor(server)
    sign_in(page, server, email, seed)
    page.get_by_role("button", name="Sign out").click()
    banner = page.get_by_text("You have signed out.")
    expect(banner).to_be_visible()
    expect(page.get_by_text("gql-keys", exact=True)).to_be_visible()  # the product, by name

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Authentication code").fill("000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-code-error")).not_to_be_empty()
    expect(banner).to_have_count(0)


def test_after_signing_in_the_live_feed_shows_the_last_requests(
    page: Page, server: LiveServer
) -> None:
    email, seed, token = account_with_two_factor(server)
    key, secret = api_key_for(server, token, seed, "busy-before")
    verifier = verifier_token(server)
    assert partner_request(server, verifier, key, secret, client_ip="127.0.0.1", path=SPOT_PATH)
    denied = partner_request(server, verifier, key, secret, client_ip="192.0.2.1", path=SPOT_PATH)
    assert denied == "IP_NOT_ALLOWED"
    sign_in(page, server, email, seed)
    feed = page.get_by_role("log", name="Live activity")
    expect(feed.locator("li")).to_have_count(2)
    expect(feed.locator("li").first).to_contain_text("Address not allowed")
    expect(feed.locator("li").first).to_contain_text("IP_NOT_ALLOWED")
    expect(feed.locator("li").last).to_contain_text("Allowed")

    partner_request(server, verifier, key, secret, client_ip="127.0.0.1", path=SPOT_PATH)
    expect(feed.locator("li")).to_have_count(3)  # live, and not doubled by the history


def test_without_live_keys_the_page_says_so_and_leads_to_the_deleted_ones(
    page: Page, server: LiveServer
) -> None:
    email, seed, token = account_with_two_factor(server)
    key, _ = api_key_for(server, token, seed, "gone")
    delete_key(server, token, key_id_of(server, token, key))
    sign_in(page, server, email, seed)
    expect(page.get_by_text("No live keys.")).to_be_visible()
    page.get_by_role("link", name="See deleted keys").click()
    deleted = page.get_by_role("table", name="Deleted keys")
    deleted.get_by_role("link", name="gone").click()
    expect(page.get_by_role("heading", name="gone")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("Deleted")
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)


def test_every_scope_checkbox_is_described_in_its_own_words(page: Page, server: LiveServer) -> None:
    email, seed, _ = account_with_two_factor(server)
    sign_in(page, server, email, seed)
    page.get_by_role("button", name="Create New Key").click()
    boxes = page.get_by_role("dialog").get_by_role("checkbox")
    expect(boxes).to_have_count(15)
    descriptions: list[Any] = boxes.evaluate_all(
        "bs => bs.map(b => document.getElementById(b.getAttribute('aria-describedby')).textContent)"
    )
    assert len(set(descriptions)) == 15
