"""The Usage view: every request on the master's keys and its sub-accounts' keys, narrowed
to one sub-account by a filter whose choice lives in the address (`#/usage/sub-accounts/<id>`),
which each sub-account's page links to."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from harness.axe import serious
from harness.journey import (
    SPOT_PATH,
    Recorder,
    account_with_two_factor,
    api_key_for,
    graphql,
    partner_request,
    sign_in,
    tab_to,
    verifier_token,
)
from harness.live_server import LiveServer

pytestmark = pytest.mark.browser

ALL = "Requests on all your keys, newest first"
DESK = "Requests on the keys of options desk, newest first"


def master_with_a_desk(server: LiveServer) -> tuple[str, str, str]:
    """A master with a key of its own and a sub-account "options desk" with a key; each key
    made one signed request (the master's from an address its allowlist refuses).
    Returns (email, seed, the sub-account's id)."""
    email, seed, token = account_with_two_factor(server)
    create = """mutation ($i: CreateSubAccountInput!) {
      createSubAccount(input: $i) { subAccount { id } userErrors { message } } }"""
    created = graphql(server, create, {"i": {"label": "options desk"}}, token)
    sub_id: str = created["createSubAccount"]["subAccount"]["id"]
    master_key, master_secret = api_key_for(server, token, seed, "master-bot")
    desk_key, desk_secret = api_key_for(server, token, seed, "desk-bot", subAccountId=sub_id)
    verifier = verifier_token(server)
    desk = partner_request(
        server, verifier, desk_key, desk_secret, client_ip="127.0.0.1", path=SPOT_PATH
    )
    master = partner_request(
        server, verifier, master_key, master_secret, client_ip="203.0.113.9", path=SPOT_PATH
    )
    assert (desk, master) == ("VALID", "IP_NOT_ALLOWED")
    return email, seed, sub_id


def test_the_sub_account_filter_narrows_usage_to_its_keys_and_stays_in_the_address(
    page: Page, server: LiveServer, recorder: Recorder
) -> None:
    email, seed, sub_id = master_with_a_desk(server)
    sign_in(page, server, email, seed)
    page.get_by_role("link", name="Usage", exact=True).click()
    everything = page.get_by_role("table", name=ALL)
    master_row = everything.get_by_role("row").filter(has_text="master-bot")
    desk_row = everything.get_by_role("row").filter(has_text="desk-bot")
    expect(master_row).to_contain_text("Your account")
    expect(master_row).to_contain_text("Address not allowed")
    expect(master_row).not_to_contain_text("IP_NOT_ALLOWED")
    expect(desk_row).to_contain_text("options desk")
    expect(desk_row).to_contain_text("Allowed")
    assert serious(page) == []

    page.get_by_label("Sub-account").select_option(label="options desk")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("heading", name="Usage of options desk")).to_be_visible()
    narrowed = page.get_by_role("table", name=DESK)
    expect(narrowed.get_by_role("row").filter(has_text="desk-bot")).to_have_count(1)
    expect(narrowed.get_by_role("row").filter(has_text="master-bot")).to_have_count(0)
    assert page.evaluate("location.hash") == f"#/usage/sub-accounts/{quote(sub_id, safe='')}"
    expect(page.get_by_role("link", name="Usage", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    assert serious(page) == []

    page.reload()  # the filtered address is a deep link
    expect(page.get_by_label("Sub-account")).to_have_value(sub_id)
    expect(narrowed.get_by_role("row").filter(has_text="desk-bot")).to_have_count(1)
    expect(narrowed.get_by_role("row").filter(has_text="master-bot")).to_have_count(0)

    page.get_by_label("Sub-account").select_option(label="All keys")
    page.get_by_role("button", name="Apply filters").click()
    expect(master_row).to_be_visible()
    assert page.evaluate("location.hash") == "#/usage"
    page.go_back()
    expect(narrowed.get_by_role("row").filter(has_text="master-bot")).to_have_count(0)
    expect(narrowed.get_by_role("row").filter(has_text="desk-bot")).to_have_count(1)
    assert recorder.csp_violations() == []


def test_a_sub_accounts_page_leads_to_its_usage_from_the_keyboard(
    page: Page, server: LiveServer
) -> None:
    email, seed, _ = master_with_a_desk(server)
    sign_in(page, server, email, seed)
    page.get_by_role("link", name="Sub-accounts").click()
    page.get_by_role("link", name="options desk").click()
    expect(page.get_by_role("heading", name="options desk")).to_be_visible()
    tab_to(page, "Usage of options desk")
    page.keyboard.press("Enter")
    narrowed = page.get_by_role("table", name=DESK)
    expect(narrowed.get_by_role("row").filter(has_text="desk-bot")).to_have_count(1)
    expect(narrowed.get_by_role("row").filter(has_text="master-bot")).to_have_count(0)

    tab_to(page, "Outcome")
    page.keyboard.press("ArrowDown")  # "Allowed"
    page.keyboard.press("ArrowDown")  # "Denied"
    tab_to(page, "Apply filters")
    page.keyboard.press("Enter")
    expect(page.get_by_text("No requests match.")).to_be_visible()
    tab_to(page, "Sub-account")
    page.keyboard.press("ArrowUp")  # "All: …"
    tab_to(page, "Apply filters")
    page.keyboard.press("Enter")
    everything = page.get_by_role("table", name=ALL)
    expect(everything.get_by_role("row").filter(has_text="master-bot")).to_contain_text(
        "Address not allowed"
    )  # the Denied outcome carried over to the wider view
    expect(everything.get_by_role("row").filter(has_text="desk-bot")).to_have_count(0)
