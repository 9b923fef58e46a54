"""The Notifications view: add an endpoint with a code and see its secret once, send it a
test message that a real receiver verifies, watch the delivery's status, delete it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from standardwebhooks import Webhook

from harness.axe import serious
from harness.journey import Recorder, account_with_two_factor, next_code, sign_in
from harness.live_server import LiveServer
from harness.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.browser


def test_an_endpoint_is_added_with_a_code_tested_and_deleted(
    page: Page, server: LiveServer, recorder: Recorder
) -> None:
    email, seed, _ = account_with_two_factor(server)
    sign_in(page, server, email, seed)
    page.get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    expect(page.get_by_text("No webhook endpoints yet.")).to_be_visible()
    assert serious(page) == []

    with WebhookReceiver() as receiver:
        page.get_by_role("button", name="Add endpoint").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        assert serious(page) == []
        dialog.get_by_label("URL").fill(receiver.url)
        dialog.get_by_label("Key deleted").uncheck()
        dialog.get_by_label("Description").fill("ops pager")
        dialog.get_by_label("Google Authenticator code").fill(next_code(server, seed))
        dialog.get_by_role("button", name="Create endpoint").click()
        secret_box = dialog.get_by_label("Signing secret")
        expect(secret_box).to_have_text(re.compile(r"^whsec_[A-Za-z0-9+/=]+$"))
        secret = secret_box.inner_text().strip()
        dialog.get_by_role("button", name="Done").click()
        expect(page.get_by_role("dialog")).to_have_count(0)
        assert secret not in page.content()  # shown once: gone with the dialog

        card = page.get_by_role("region", name=f"Endpoint {receiver.url}")
        expect(card).to_contain_text("ops pager")
        expect(card).not_to_contain_text("Key deleted")
        card.get_by_role("button", name="Send test").click()
        (received,) = receiver.wait_for(1, timeout=15)
        assert Webhook(secret).verify(received.body, received.headers)["type"] == "test"
        delivered = card.get_by_role("row").filter(has_text="test")
        expect(delivered).to_contain_text("Delivered", timeout=15_000)
        expect(delivered).to_contain_text("200")
        assert serious(page) == []

        card.get_by_role("button", name="Delete").click()
        expect(page.get_by_text("No webhook endpoints yet.")).to_be_visible()
    assert recorder.csp_violations() == []
    assert recorder.foreign_requests() == []
