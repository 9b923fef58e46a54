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
    partner_request,
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
