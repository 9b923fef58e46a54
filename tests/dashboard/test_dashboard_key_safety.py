"""Key safety in the dashboard: a pending change shows when it takes effect and can be
cancelled; a quarantined key says why and offers Release and Roll secret; a key can be
quarantined at once; canary keys are made from the dashboard and marked as decoys."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from harness.journey import (
    SPOT_PATH,
    account_with_two_factor,
    api_key_for,
    next_code,
    partner_request,
    report_leak,
    sign_in,
    verifier_token,
)
from harness.live_server import LiveServer

pytestmark = pytest.mark.browser


def test_a_cooling_off_withdraw_shows_when_it_takes_effect_and_can_be_cancelled(
    page: Page, server: LiveServer
) -> None:
    email, seed, token = account_with_two_factor(server)
    api_key_for(server, token, seed, "treasury", scopes=["WITHDRAW"])
    sign_in(page, server, email, seed)
    row = page.get_by_role("row").filter(has_text="treasury")
    expect(row.locator("li.pending")).to_contain_text("Withdraw")
    row.get_by_role("link", name="treasury").click()

    pending = page.locator("#pending-change")
    expect(pending).to_contain_text(re.compile(r"From .+: adds Withdraw"))
    expect(page.locator("dl.facts")).to_contain_text("Change pending")
    pending.get_by_role("button", name="Cancel pending change").click()
    expect(page.locator("main").get_by_role("status")).to_contain_text("Pending change cancelled")
    expect(page.locator("#pending-change")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel pending change")).to_have_count(0)
    expect(page.locator("dl.facts")).not_to_contain_text("Withdraw")


def test_a_key_quarantined_at_once_says_why_and_is_released_with_a_code(
    page: Page, server: LiveServer
) -> None:
    email, seed, token = account_with_two_factor(server)
    key, secret = api_key_for(server, token, seed, "panic-button")
    verifier = verifier_token(server)
    sign_in(page, server, email, seed)
    page.get_by_role("link", name="panic-button").click()
    page.get_by_role("button", name="Quarantine now").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("only reads and cancels orders")
    dialog.get_by_role("button", name="Quarantine key").click()
    expect(page.locator("dialog")).to_have_count(0)

    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Quarantined")
    expect(facts).to_contain_text("you quarantined it")
    expect(page.locator("#quarantine-why")).to_contain_text("you quarantined it")
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Roll secret")).to_be_visible()
    post = partner_request(server, verifier, key, secret, client_ip="127.0.0.1", path=SPOT_PATH)
    assert post == "VALID"  # a read still verifies while quarantined

    page.get_by_role("button", name="Release", exact=True).click()
    dialog.get_by_label("Google Authenticator code").fill(next_code(server, seed))
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.locator("dialog")).to_have_count(0)
    expect(facts).to_contain_text("Active")
    expect(page.get_by_role("button", name="Quarantine now")).to_be_visible()


def test_a_leaked_key_shows_the_report_in_its_row_and_a_roll_ends_it_with_no_overlap(
    page: Page, server: LiveServer
) -> None:
    email, seed, token = account_with_two_factor(server)
    key, secret = api_key_for(server, token, seed, "leaked-bot")
    api_key_for(server, token, seed, "fine-bot")
    report_leak(server, secret)
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, server, email, seed)

    row = page.get_by_role("row").filter(has_text="leaked-bot")
    status = row.get_by_text("Quarantined", exact=True)
    expect(status).to_have_attribute("title", re.compile("a leak of its secret was reported"))
    expect(row.get_by_role("button", name="Release", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name="Edit")).to_have_count(0)
    wide = page.locator(".table-wrap")
    assert wide.evaluate("w => w.scrollWidth <= w.clientWidth")  # still one key a line

    row.get_by_role("button", name="Roll secret").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("#roll-quarantined")).to_contain_text(
        "stops working at once (no overlap)"
    )
    expect(dialog.get_by_label("Old secret keeps working for")).to_have_count(0)
    dialog.get_by_label("Google Authenticator code").fill(next_code(server, seed))
    dialog.get_by_role("button", name="Roll now").click()
    rolled = dialog.get_by_label("Secret key").inner_text().strip()
    dialog.get_by_role("button", name="Done").click()
    expect(row.get_by_text("Active", exact=True)).to_be_visible()

    verifier = verifier_token(server)
    old = partner_request(server, verifier, key, secret, client_ip="127.0.0.1", path=SPOT_PATH)
    assert old == "INVALID_SIGNATURE"  # the leaked secret died at once
    new = partner_request(server, verifier, key, rolled, client_ip="127.0.0.1", path=SPOT_PATH)
    assert new == "VALID"


def test_a_canary_key_is_made_from_the_dashboard_explained_as_a_decoy_and_marked(
    page: Page, server: LiveServer
) -> None:
    email, seed, _ = account_with_two_factor(server)
    sign_in(page, server, email, seed)
    page.get_by_role("button", name="Create canary key").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_have_accessible_name("Create canary key")
    expect(dialog).to_contain_text("decoy")
    dialog.get_by_label("Label").fill("bait in the ops repo")
    dialog.get_by_label("Withdraw", exact=True).check()
    dialog.get_by_label("IP allowlist").fill("127.0.0.1")
    dialog.get_by_label("Google Authenticator code").fill(next_code(server, seed))
    dialog.get_by_role("button", name="Next").click()
    expect(dialog.get_by_role("heading", name="Canary key created")).to_be_visible()
    secret = dialog.get_by_label("Secret key").inner_text().strip()
    key = dialog.locator("dd code").inner_text().strip()
    dialog.get_by_role("button", name="Done").click()

    row = page.get_by_role("row").filter(has_text="bait in the ops repo")
    expect(row.get_by_text("Canary", exact=True)).to_be_visible()
    tripped = partner_request(
        server, verifier_token(server), key, secret, client_ip="127.0.0.1", path=SPOT_PATH
    )
    assert tripped != "VALID"
    row.get_by_role("link", name="bait in the ops repo").click()
    expect(page.locator("#canary-note")).to_contain_text("A decoy")
    expect(page.get_by_role("button", name="Quarantine now")).to_have_count(0)
