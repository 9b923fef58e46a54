"""The reference dashboard in a real browser: the whole journey of the seed, and what must
hold throughout (no CSP violation, nothing from another origin, no secret left behind)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Page, expect

from harness.axe import serious
from harness.journey import (
    PASSWORD,
    SPOT_PATH,
    Recorder,
    account_with_two_factor,
    api_key_for,
    graphql,
    key_id_of,
    next_code,
    partner_request,
    roll_key,
    sign_in,
    tab_to,
    verifier_token,
    walk_the_whole_journey,
)
from harness.live_server import LOGIN_FAILURES_BEFORE_LOCK, LiveServer

pytestmark = pytest.mark.browser


def test_journey_from_new_account_to_signed_out(
    page: Page, server: LiveServer, recorder: Recorder
) -> None:
    walk_the_whole_journey(page, server, recorder)


def test_create_key_with_the_keyboard_alone(
    page: Page, server: LiveServer, recorder: Recorder
) -> None:
    email, seed, _ = account_with_two_factor(server)
    page.goto("/")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_label("Authentication code")).to_be_focused()
    page.keyboard.type(next_code(server, seed))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="API Management")).to_be_visible()

    tab_to(page, "Create New Key")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Label")).to_be_focused()
    page.keyboard.type("keyboard-only")
    tab_to(page, "Spot: read")
    page.keyboard.press("Space")
    tab_to(page, "Wallet: trade")
    page.keyboard.press("Space")
    expect(dialog.get_by_label("Wallet: read", exact=True)).to_be_checked()
    tab_to(page, "IP allowlist")
    page.keyboard.type("127.0.0.1")
    tab_to(page, "Google Authenticator code")
    page.keyboard.type(next_code(server, seed))
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Next")).to_be_focused()  # the code's own line
    page.keyboard.press("Enter")
    secret = dialog.get_by_label("Secret key").inner_text().strip()
    assert secret
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    tab_to(page, "Copy")
    page.keyboard.press("Enter")
    expect(dialog.get_by_text("Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == secret

    page.keyboard.press("Escape")
    expect(page.locator("dialog")).to_have_count(0)  # gone from the DOM, not just closed
    assert secret not in page.content()
    expect(page.get_by_role("button", name="Create New Key")).to_be_focused()
    row = page.get_by_role("row").filter(has_text="keyboard-only")
    expect(row).to_contain_text("Spot: read")
    expect(row).to_contain_text("Wallet: trade")
    assert recorder.csp_violations() == []


def test_ticking_a_write_scope_ticks_its_read_and_unticking_the_read_drops_both(
    page: Page, server: LiveServer
) -> None:
    email, seed, _ = account_with_two_factor(server)
    sign_in(page, server, email, seed)
    page.get_by_role("button", name="Create New Key").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Futures: trade").check()
    expect(dialog.get_by_label("Futures: read")).to_be_checked()
    dialog.get_by_label("Futures: read").uncheck()
    expect(dialog.get_by_label("Futures: trade")).not_to_be_checked()
    expect(dialog.get_by_role("checkbox")).to_have_count(15)


def test_user_errors_appear_next_to_the_field_they_name(page: Page, server: LiveServer) -> None:
    email, seed, _ = account_with_two_factor(server)
    sign_in(page, server, email, seed)
    page.get_by_role("button", name="Create New Key").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Label").fill("bad allowlist")
    dialog.get_by_label("Spot: read").check()
    dialog.get_by_label("IP allowlist").fill("not-an-address")
    good_code = next_code(server, seed)
    dialog.get_by_label("Google Authenticator code").fill(good_code)
    dialog.get_by_role("button", name="Next").click()  # the details are checked first
    allowlist = dialog.get_by_label("IP allowlist")
    expect(allowlist).to_have_attribute("aria-invalid", "true")
    expect(allowlist).to_be_focused()
    described_by = allowlist.get_attribute("aria-describedby") or ""
    error = page.locator(f"#{described_by.split()[-1]}")
    expect(error).to_have_class("field-error")
    expect(error).not_to_be_empty()
    code = dialog.get_by_label("Google Authenticator code")
    expect(code).to_have_value(good_code)  # not spent on a bad field

    dialog.get_by_label("IP allowlist").fill("127.0.0.1")
    code.fill("000000")
    dialog.get_by_role("button", name="Next").click()
    expect(code).to_have_attribute("aria-invalid", "true")
    expect(code).to_be_focused()
    expect(page.locator("#key-code-error")).not_to_be_empty()


def test_sign_in_asks_for_the_authentication_code_only_when_the_account_has_two_factor(
    page: Page, server: LiveServer
) -> None:
    email, seed, _ = account_with_two_factor(server)
    page.goto("/")
    expect(page.get_by_label("Authentication code")).to_have_count(0)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Authentication code").fill("123456")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-code-error")).not_to_be_empty()
    page.get_by_label("Authentication code").fill(next_code(server, seed))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="API Management")).to_be_visible()


def test_an_ended_session_returns_to_sign_in_with_a_message(page: Page, server: LiveServer) -> None:
    email, seed, _ = account_with_two_factor(server)
    sign_in(page, server, email, seed)
    token = page.evaluate("() => sessionStorage.getItem('gql-keys.session')")
    graphql(server, "mutation { logout { userErrors { code } } }", {}, token)
    page.evaluate("() => { location.hash = '#/keys/anything'; }")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Your session has expired")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_the_page_refuses_inline_script_and_markup_from_strings(
    page: Page, server: LiveServer, recorder: Recorder
) -> None:
    page.goto("/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    outcome = page.evaluate(
        """() => {
          const script = document.createElement('script');
          try {
            script.append(document.createTextNode('window.injected = true'));
            document.body.append(script);
          } catch (e) { /* Trusted Types may refuse it before CSP does */ }
          let markup = 'parsed';
          try { document.body.insertAdjacentHTML('beforeend', '<b>x</b>'); }
          catch (e) { markup = e.name; }
          return { injected: window.injected === true, markup };
        }"""
    )
    assert outcome == {"injected": False, "markup": "TypeError"}
    page.wait_for_timeout(100)
    violations = recorder.csp_violations()
    assert any("require-trusted-types-for" in line for line in violations), violations


def test_live_activity_reconnects_after_a_server_restart(page: Page, server: LiveServer) -> None:
    email, seed, token = account_with_two_factor(server)
    key, secret = api_key_for(server, token, seed, "restart-proof")
    sign_in(page, server, email, seed)
    live = page.get_by_role("region", name="Live activity")
    expect(live.get_by_text("Live", exact=True)).to_be_visible()
    server.stop()
    expect(live.get_by_text("Reconnecting…")).to_be_visible()
    server.start()
    expect(live.get_by_text("Live", exact=True)).to_be_visible(timeout=15_000)
    verifier = verifier_token(server)
    result = partner_request(server, verifier, key, secret, client_ip="127.0.0.1", path=SPOT_PATH)
    assert result == "VALID"
    expect(page.get_by_role("log", name="Live activity")).to_contain_text("restart-proof")


def test_axe_finds_no_serious_or_critical_violation(page: Page, server: LiveServer) -> None:
    page.goto("/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert serious(page) == []
    page.get_by_role("link", name="Create account").click()
    expect(page.get_by_role("button", name="Create account")).to_be_visible()
    assert serious(page) == []

    email, seed, token = account_with_two_factor(server)
    key, secret = api_key_for(server, token, seed, "for-axe")
    roll_key(server, token, seed, key_id_of(server, token, key))
    partner_request(
        server, verifier_token(server), key, secret, client_ip="127.0.0.1", path=SPOT_PATH
    )
    sign_in(page, server, email, seed)
    expect(page.get_by_role("row").filter(has_text="for-axe")).to_be_visible()
    expect(page.get_by_role("log", name="Live activity").locator("li")).not_to_have_count(0)
    assert serious(page) == []
    page.get_by_role("button", name="Create New Key").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    assert serious(page) == []
    dialog.get_by_label("Label").fill("for-axe-2")
    dialog.get_by_label("Spot: read").check()
    dialog.get_by_label("Google Authenticator code").fill("000000")
    dialog.get_by_role("button", name="Next").click()
    expect(page.locator("#key-code-error")).not_to_be_empty()
    assert serious(page) == []
    page.keyboard.press("Escape")
    page.get_by_role("link", name="for-axe").click()
    expect(page.locator("figure.chart canvas").first).to_be_visible()
    expect(page.locator(".badge-previous").first).to_be_visible()
    assert serious(page) == []
    page.get_by_role("button", name="Edit").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert serious(page) == []
    page.keyboard.press("Escape")
    page.get_by_role("link", name="Security").click()
    expect(page.get_by_role("table", name="Where you are signed in")).to_be_visible()
    expect(page.get_by_role("button", name="Turn off two-factor")).to_be_disabled()
    assert serious(page) == []


def test_the_keys_table_marks_keys_expiring_within_7_days_and_unused_for_30(
    page: Page, server: LiveServer
) -> None:
    email, seed, token = account_with_two_factor(server)
    soon = server.clock.now() + timedelta(days=2, hours=12)
    api_key_for(server, token, seed, "expiring-soon", expiresAt=soon.isoformat())
    api_key_for(server, token, seed, "idle")
    sign_in(page, server, email, seed)
    expiring = page.get_by_role("row").filter(has_text="expiring-soon")
    expect(expiring.locator(".badge-expiring")).to_have_text("In 3 days")
    idle = page.get_by_role("row").filter(has_text="idle")
    expect(idle.locator(".badge")).to_have_count(0)
    only_unused = page.get_by_label("Show only keys unused for 30 days")
    only_unused.check()
    expect(idle).to_have_count(0)

    page.clock.set_fixed_time(datetime.now(UTC) + timedelta(days=31))
    page.reload()
    expect(page.get_by_role("row").filter(has_text="idle").locator(".badge-unused")).to_have_text(
        "Never used"
    )
    only_unused.check()
    expect(page.get_by_role("row").filter(has_text="idle")).to_be_visible()


def test_too_many_attempts_says_when_to_try_again(page: Page, server: LiveServer) -> None:
    email, _, _ = account_with_two_factor(server)
    page.goto("/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password at all")
    for _ in range(LOGIN_FAILURES_BEFORE_LOCK + 1):
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("try again in")
    expect(alert).to_contain_text(re.compile(r"\(at \d{1,2}:\d{2}:\d{2}"))


def test_an_ed25519_key_takes_a_public_key_and_shows_no_secret(
    page: Page, server: LiveServer
) -> None:
    email, seed, _ = account_with_two_factor(server)
    sign_in(page, server, email, seed)
    public_pem = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    page.get_by_role("button", name="Create New Key").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Label").fill("own-key-pair")
    dialog.get_by_label("Spot: read").check()
    dialog.get_by_label("IP allowlist").fill("127.0.0.1")
    expect(dialog.get_by_label("Public key")).to_have_count(0)
    dialog.get_by_label("Ed25519").check()
    dialog.get_by_label("Public key").fill(public_pem)
    dialog.get_by_label("Google Authenticator code").fill(next_code(server, seed))
    dialog.get_by_role("button", name="Next").click()
    expect(dialog.get_by_role("heading", name="Key created")).to_be_visible()
    expect(dialog.get_by_label("Secret key")).to_have_count(0)
    dialog.get_by_role("button", name="Done").click()
    expect(page.get_by_role("row").filter(has_text="own-key-pair")).to_be_visible()


def test_security_revokes_sessions_regenerates_codes_and_guards_turning_off_two_factor(
    page: Page, server: LiveServer
) -> None:
    email, seed, other_session = account_with_two_factor(server)
    api_key_for(server, other_session, seed, "still-live")
    sign_in(page, server, email, seed)
    page.get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()

    sessions = page.get_by_role("table", name="Where you are signed in")
    expect(sessions.get_by_text("This browser")).to_be_visible()
    sessions.get_by_role("button", name="Revoke").click()
    expect(sessions.get_by_role("button", name="Revoke")).to_have_count(0)
    viewer = graphql(server, "{ viewer { id } }", {}, other_session)
    assert viewer is None or viewer["viewer"] is None

    login = "mutation ($i: LoginInput!) { login(input: $i) { token } }"
    credentials = {"email": email, "password": PASSWORD, "totpCode": next_code(server, seed)}
    elsewhere = graphql(server, login, {"i": credentials}, "")["login"]["token"]
    recovery = page.get_by_role("region", name="Recovery codes")
    expect(recovery.get_by_label("Sign out other sessions")).to_be_checked()
    recovery.get_by_label("Authentication code").fill(next_code(server, seed))
    recovery.get_by_role("button", name="Regenerate recovery codes").click()
    expect(
        page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    ).not_to_have_count(0)
    page.get_by_role("button", name="I have saved them").click()
    viewer = graphql(server, "{ viewer { id } }", {}, elsewhere)
    assert viewer is None or viewer["viewer"] is None  # signed out by the new codes

    turn_off = page.get_by_role("region", name="Turn off two-factor authentication")
    expect(turn_off.get_by_label("Sign out other sessions")).to_be_checked()

    events = page.get_by_role("table", name="Security events, newest first")
    page.reload()
    expect(events).to_contain_text("Signed in")
    expect(events).to_contain_text("Session revoked")
    expect(events).to_contain_text("Recovery codes regenerated")

    password = page.get_by_role("region", name="Change password")
    password.get_by_label("Current password").fill(PASSWORD)
    password.get_by_label("New password").fill("an even longer passphrase 43")
    password.get_by_role("button", name="Change password").click()
    expect(password.get_by_role("status")).to_contain_text("Password changed")


def test_usage_logs_filter_and_load_more_pages(page: Page, server: LiveServer) -> None:
    email, seed, token = account_with_two_factor(server)
    key, secret = api_key_for(server, token, seed, "busy")
    verifier = verifier_token(server)
    for n in range(30):
        address = "127.0.0.1" if n % 3 else "198.51.100.7"
        partner_request(server, verifier, key, secret, client_ip=address, path=SPOT_PATH)
    sign_in(page, server, email, seed)
    page.get_by_role("link", name="busy").click()
    logs = page.get_by_role("table", name="Usage logs, newest first")
    expect(logs.get_by_role("row")).to_have_count(26)  # a page of 25, and the header
    page.get_by_role("button", name="Load more").click()
    expect(logs.get_by_role("row")).to_have_count(31)
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)

    page.get_by_label("Client address").fill("198.51.100.7")
    page.get_by_role("button", name="Apply filters").click()
    expect(logs.get_by_role("row")).to_have_count(11)
    page.get_by_label("Client address").fill("")
    page.get_by_label("Verification code").select_option("VALID")
    page.get_by_role("button", name="Apply filters").click()
    expect(logs.get_by_role("row")).to_have_count(21)
    expect(logs).not_to_contain_text("IP_NOT_ALLOWED")


def test_create_new_key_is_one_dialog_in_the_contract_order(page: Page, server: LiveServer) -> None:
    email, seed, _ = account_with_two_factor(server)
    sign_in(page, server, email, seed)
    page.get_by_role("button", name="Create New Key").click()
    dialog = page.get_by_role("dialog")
    controls = [
        dialog.get_by_label("Label"),
        dialog.get_by_label("Spot: read", exact=True),
        dialog.get_by_label("Withdraw", exact=True),
        dialog.get_by_label("IP allowlist"),
        dialog.get_by_label("Google Authenticator code"),
        dialog.get_by_role("button", name="Next"),
    ]
    ids = [control.evaluate("e => { e.dataset.order = 'x'; return true; }") for control in controls]
    assert all(ids)
    order: list[str] = dialog.evaluate(
        """d => [...d.querySelectorAll('[data-order]')].map(e => e.id || e.textContent.trim())"""
    )
    expected = [control.evaluate("e => e.id || e.textContent.trim()") for control in controls]
    assert order == expected  # document order is reading and Tab order
    for control in controls:
        expect(control).to_be_visible()  # one step: everything is there at once
