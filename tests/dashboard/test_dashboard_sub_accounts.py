"""The Sub-accounts view: create one by its label, give it keys of its own (the master's
keys table stays the master's), lock it at once, unlock it with a code, delete it and its
keys with confirmation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from harness.axe import serious
from harness.journey import (
    SPOT_PATH,
    account_with_two_factor,
    api_key_for,
    create_key,
    next_code,
    partner_request,
    report_leak,
    sign_in,
    tab_to,
    verifier_token,
)
from harness.live_server import LiveServer

pytestmark = pytest.mark.browser


def test_a_sub_account_gets_its_own_keys_is_locked_unlocked_and_deleted_with_them(
    page: Page, server: LiveServer
) -> None:
    email, seed, token = account_with_two_factor(server)
    api_key_for(server, token, seed, "master-bot")
    sign_in(page, server, email, seed)
    page.get_by_role("link", name="Sub-accounts").click()
    expect(page.get_by_role("heading", name="Sub-accounts", exact=True)).to_be_visible()
    page.get_by_label("Label").fill("options desk")
    page.get_by_role("button", name="Create sub-account").click()
    subs = page.get_by_role("table", name="Your sub-accounts")
    row = subs.get_by_role("row").filter(has_text="options desk")
    expect(row).to_contain_text("Active")

    row.get_by_role("link", name="options desk").click()
    expect(page.get_by_role("heading", name="options desk")).to_be_visible()
    key, secret = create_key(page, server, seed, "desk-bot", ["Spot: read"], "127.0.0.1")
    page.get_by_role("dialog").get_by_role("button", name="Done").click()
    keys = page.get_by_role("table", name="Keys of options desk")
    expect(keys.get_by_role("row").filter(has_text="desk-bot")).to_contain_text(key)
    verifier = verifier_token(server)
    allowed = partner_request(server, verifier, key, secret, client_ip="127.0.0.1", path=SPOT_PATH)
    assert allowed == "VALID"

    keys.get_by_role("link", name="desk-bot").click()
    expect(page.get_by_role("heading", name="desk-bot")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("Spot: read")
    page.locator(".crumbs").get_by_role("link", name="options desk").click()
    expect(keys).to_be_visible()

    page.get_by_role("link", name="API keys").click()
    mine = page.get_by_role("table", name="Your API keys")
    expect(mine.get_by_role("row").filter(has_text="master-bot")).to_be_visible()
    expect(mine.get_by_role("row").filter(has_text="desk-bot")).to_have_count(0)

    page.get_by_role("link", name="Sub-accounts").click()
    expect(row).to_contain_text("1")  # its live keys
    row.get_by_role("button", name="Lock").click()
    expect(row).to_contain_text("Locked")
    locked = partner_request(server, verifier, key, secret, client_ip="127.0.0.1", path=SPOT_PATH)
    assert locked == "ACCOUNT_LOCKED"

    row.get_by_role("button", name="Unlock").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Google Authenticator code").fill(next_code(server, seed))
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.locator("dialog")).to_have_count(0)
    expect(row).to_contain_text("Active")
    allowed = partner_request(server, verifier, key, secret, client_ip="127.0.0.1", path=SPOT_PATH)
    assert allowed == "VALID"

    row.get_by_role("button", name="Delete").click()
    expect(dialog).to_contain_text("Every key of this sub-account is deleted with it")
    dialog.get_by_role("button", name="Delete sub-account").click()
    expect(subs).to_have_count(0)
    expect(page.get_by_text("No sub-accounts yet.")).to_be_visible()
    gone = partner_request(server, verifier, key, secret, client_ip="127.0.0.1", path=SPOT_PATH)
    assert gone == "KEY_DELETED"


def test_a_wrong_code_leaves_the_sub_account_locked(page: Page, server: LiveServer) -> None:
    email, seed, _ = account_with_two_factor(server)
    sign_in(page, server, email, seed)
    page.get_by_role("link", name="Sub-accounts").click()
    page.get_by_label("Label").fill("quant")
    page.get_by_role("button", name="Create sub-account").click()
    row = page.get_by_role("row").filter(has_text="quant")
    row.get_by_role("button", name="Lock").click()
    row.get_by_role("button", name="Unlock").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Google Authenticator code").fill("000000")
    dialog.get_by_role("button", name="Confirm").click()
    code = dialog.get_by_label("Google Authenticator code")
    expect(code).to_have_attribute("aria-invalid", "true")
    page.keyboard.press("Escape")
    expect(row).to_contain_text("Locked")


def test_the_new_views_have_no_serious_axe_violation(page: Page, server: LiveServer) -> None:
    email, seed, token = account_with_two_factor(server)
    _, leaked = api_key_for(server, token, seed, "leaked")
    api_key_for(server, token, seed, "treasury", scopes=["WITHDRAW"])
    report_leak(server, leaked)
    sign_in(page, server, email, seed)
    expect(page.get_by_role("row").filter(has_text="leaked")).to_contain_text("Quarantined")
    assert serious(page) == []
    page.get_by_role("button", name="Create canary key").click()
    expect(page.get_by_role("dialog")).to_contain_text("decoy")
    assert serious(page) == []
    page.keyboard.press("Escape")
    page.get_by_role("row").filter(has_text="leaked").get_by_role("button", name="Release").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert serious(page) == []
    page.keyboard.press("Escape")
    page.get_by_role("link", name="leaked").click()
    expect(page.locator("#quarantine-why")).to_be_visible()
    assert serious(page) == []
    page.get_by_role("link", name="API Management").click()
    page.get_by_role("link", name="treasury").click()
    expect(page.locator("#pending-change")).to_be_visible()
    page.get_by_role("button", name="Quarantine now").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert serious(page) == []
    page.keyboard.press("Escape")

    page.get_by_role("link", name="Sub-accounts").click()
    expect(page.get_by_text("No sub-accounts yet.")).to_be_visible()
    assert serious(page) == []
    page.get_by_label("Label").fill("desk")
    page.get_by_role("button", name="Create sub-account").click()
    row = page.get_by_role("row").filter(has_text="desk")
    row.get_by_role("button", name="Lock").click()
    expect(row).to_contain_text("Locked")
    assert serious(page) == []
    row.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert serious(page) == []
    page.keyboard.press("Escape")
    row.get_by_role("link", name="desk").click()
    expect(page.get_by_text("No keys yet.")).to_be_visible()
    assert serious(page) == []


def test_sub_accounts_and_a_pending_change_work_from_the_keyboard_alone(
    page: Page, server: LiveServer
) -> None:
    email, seed, token = account_with_two_factor(server)
    api_key_for(server, token, seed, "treasury", scopes=["WITHDRAW"])
    sign_in(page, server, email, seed)
    tab_to(page, "Sub-accounts")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sub-accounts", exact=True)).to_be_visible()
    tab_to(page, "Label")
    page.keyboard.type("keyboard desk")
    page.keyboard.press("Enter")
    row = page.get_by_role("row").filter(has_text="keyboard desk")
    expect(row).to_contain_text("Active")
    tab_to(page, "Lock")
    page.keyboard.press("Enter")
    expect(row).to_contain_text("Locked")
    tab_to(page, "Unlock")
    page.keyboard.press("Enter")
    code = page.get_by_role("dialog").get_by_label("Google Authenticator code")
    expect(code).to_be_focused()
    page.keyboard.type(next_code(server, seed))
    page.keyboard.press("Enter")
    expect(row).to_contain_text("Active")

    tab_to(page, "API keys")
    page.keyboard.press("Enter")
    tab_to(page, "treasury")
    page.keyboard.press("Enter")
    expect(page.locator("#pending-change")).to_be_visible()
    tab_to(page, "Cancel pending change")
    page.keyboard.press("Enter")
    expect(page.locator("#pending-change")).to_have_count(0)
