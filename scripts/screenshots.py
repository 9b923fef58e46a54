"""Write PNGs of the dashboard's main views to docs/screenshots/ (``make screenshots``).

Drives Debian's Chromium through Playwright against a live gql-keys on a temporary SQLite
database, with the same steps the browser tests take.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.browser import CHROMIUM_ARGS, find_chromium  # noqa: E402
from harness.databases import migrate_url  # noqa: E402
from harness.journey import (  # noqa: E402
    PASSWORD,
    create_account,
    create_key,
    next_code,
    partner_request,
    report_leak,
    verifier_token,
)
from harness.live_server import LiveServer, settings_for  # noqa: E402
from harness.webhook_receiver import WebhookReceiver  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SPOT = "/api/v4/spot/orders"
# The size a first look was taken at: the keys table keeps one key a line at this width.
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


def shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> int:
    chromium = find_chromium()
    if chromium is None:
        print("no Chromium found: apt-get install chromium", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite://{tmp}/gql-keys.sqlite3"
        asyncio.run(migrate_url(url))
        key_b64 = base64.b64encode(secrets.token_bytes(32)).decode()
        server = LiveServer(settings_for(Path(tmp) / "data", url, key_b64))
        server.start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                page = browser.new_page(base_url=server.url, viewport=VIEWPORT)
                page.goto("/")
                expect(page.get_by_role("button", name="Sign in")).to_be_visible()
                shoot(page, "sign-in")
                create_account(page, "ada@example.com")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Set up authenticator").click()
                expect(page.get_by_role("img", name="QR code")).to_be_visible()
                shoot(page, "two-factor-setup")
                seed = page.get_by_label("Setup key").inner_text().strip()
                page.get_by_label("Authentication code").fill(next_code(server, seed))
                page.get_by_role("button", name="Enable").click()
                page.get_by_role("button", name="I have saved them").click()
                token = verifier_token(server)
                key, secret = create_key(
                    page,
                    server,
                    seed,
                    "market-maker",
                    ["Spot: trade", "Futures: read", "Wallet: read"],
                    "203.0.113.7\n198.51.100.0/24",
                )
                shoot(page, "secret-once")
                page.get_by_role("button", name="Done").click()
                _, leaked = create_key(
                    page, server, seed, "tax reporting", ["Wallet: read"], "203.0.113.8"
                )
                page.get_by_role("button", name="Done").click()
                create_key(page, server, seed, "treasury", ["Withdraw"], "2001:db8:40::/48")
                page.get_by_role("button", name="Done").click()
                dialog = page.get_by_role("dialog")
                page.get_by_role("button", name="Create New Key").click()
                dialog.get_by_label("Label").fill("options-desk")
                dialog.get_by_label("Options: trade").check()
                dialog.get_by_label("IP allowlist").fill("203.0.113.9")
                dialog.evaluate("dialog => { dialog.scrollTop = 0; }")
                shoot(page, "create-key")
                page.keyboard.press("Escape")
                report_leak(server, leaked)
                for n in range(24):
                    ip = "203.0.113.7" if n % 5 else "192.0.2.44"
                    partner_request(server, token, key, secret, client_ip=ip, path=SPOT)
                    server.clock.advance(1)
                expect(page.get_by_role("log").get_by_text("IP_NOT_ALLOWED").first).to_be_visible()
                used = page.get_by_role("row").filter(has_text="market-maker").locator("time")
                expect(used.first).to_be_visible()  # Last used, once the feed's refresh ran
                page.evaluate("() => document.activeElement?.blur()")
                shoot(page, "api-management")

                market_maker = page.get_by_role("row").filter(has_text="market-maker")
                market_maker.get_by_role("button", name="Roll secret").click()
                dialog.get_by_label("Google Authenticator code").fill(next_code(server, seed))
                dialog.get_by_role("button", name="Roll now").click()
                rolled = dialog.get_by_label("Secret key").inner_text().strip()
                dialog.get_by_role("button", name="Done").click()
                for n in range(6):
                    # One partner has moved to the new secret, one has not yet.
                    on_old = n % 2 == 0
                    partner_request(
                        server,
                        token,
                        key,
                        secret if on_old else rolled,
                        client_ip="198.51.100.20" if on_old else "203.0.113.7",
                        path=SPOT,
                    )
                    server.clock.advance(1)
                market_maker.get_by_role("link", name="market-maker").click()
                expect(page.locator("figure.chart canvas").first).to_be_visible()
                expect(page.locator(".badge-previous").first).to_be_visible()
                page.wait_for_timeout(300)
                shoot(page, "key-usage", full_page=True)

                page.get_by_role("link", name="API Management").click()
                page.get_by_role("row").filter(has_text="market-maker").get_by_role(
                    "button", name="Edit"
                ).click()
                dialog.get_by_label("Margin: trade").check()
                dialog.get_by_role("button", name="Save changes").click()
                expect(dialog.get_by_label("Google Authenticator code")).to_be_focused()
                shoot(page, "edit-widening")
                page.keyboard.press("Escape")

                page.get_by_role("link", name="tax reporting").click()
                expect(page.locator("#quarantine-why")).to_be_visible()
                page.evaluate("() => document.activeElement?.blur()")
                shoot(page, "key-quarantined")

                page.get_by_role("link", name="Sub-accounts").click()
                for label in ("options desk", "client: Northwind", "arbitrage strategy"):
                    page.get_by_label("Label").fill(label)
                    page.get_by_role("button", name="Create sub-account").click()
                    expect(page.get_by_role("row").filter(has_text=label)).to_be_visible()
                page.get_by_role("row").filter(has_text="Northwind").get_by_role(
                    "button", name="Lock"
                ).click()
                expect(page.get_by_role("row").filter(has_text="Northwind")).to_contain_text(
                    "Locked"
                )
                page.get_by_role("link", name="options desk").click()
                create_key(page, server, seed, "desk-bot", ["Options: trade"], "203.0.113.20")
                page.get_by_role("button", name="Done").click()
                page.evaluate("() => document.activeElement?.blur()")
                shoot(page, "sub-account")
                page.get_by_role("navigation").get_by_role("link", name="Sub-accounts").click()
                expect(page.get_by_role("table", name="Your sub-accounts")).to_contain_text("1")
                page.evaluate("() => document.activeElement?.blur()")
                shoot(page, "sub-accounts")

                page.get_by_role("navigation").get_by_role("link", name="Usage").click()
                expect(page.get_by_role("heading", name="Usage")).to_be_visible()
                expect(page.get_by_role("region", name="Usage logs")).to_contain_text(
                    "market-maker"
                )
                page.evaluate("() => document.activeElement?.blur()")
                shoot(page, "usage")

                with WebhookReceiver() as receiver:
                    page.get_by_role("link", name="Notifications").click()
                    page.get_by_role("button", name="Add endpoint").click()
                    dialog.get_by_label("URL").fill(receiver.url)
                    dialog.get_by_label("Description").fill("ops pager")
                    dialog.get_by_label("Google Authenticator code").fill(next_code(server, seed))
                    dialog.get_by_role("button", name="Create endpoint").click()
                    expect(dialog.get_by_label("Signing secret")).to_be_visible()
                    dialog.get_by_role("button", name="Done").click()
                    card = page.get_by_role("region", name=f"Endpoint {receiver.url}")
                    card.get_by_role("button", name="Send test").click()
                    receiver.wait_for(1, timeout=15)
                    expect(card.get_by_role("row").filter(has_text="test")).to_contain_text(
                        "Delivered", timeout=15_000
                    )
                    page.evaluate("() => document.activeElement?.blur()")
                    shoot(page, "notifications")

                page.get_by_role("link", name="Security").click()
                expect(page.get_by_role("table", name="Where you are signed in")).to_be_visible()
                expect(page.locator(".agent-name").first).not_to_be_empty()
                shoot(page, "security", full_page=True)
                next_code(server, seed)
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
