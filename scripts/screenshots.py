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

from playwright.sync_api import Page, expect, sync_playwright

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
    verifier_token,
)
from harness.live_server import LiveServer, settings_for  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SPOT = "/api/v4/spot/orders"


def shoot(page: Page, name: str) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
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
                page = browser.new_page(
                    base_url=server.url, viewport={"width": 1400, "height": 900}
                )
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
                    ["Spot: trade", "Wallet: read"],
                    "203.0.113.7\n198.51.100.0/24",
                )
                shoot(page, "secret-once")
                page.get_by_role("button", name="Done").click()
                create_key(page, server, seed, "reporting", ["Futures: read"], "203.0.113.8")
                page.get_by_role("button", name="Done").click()
                page.get_by_role("button", name="Create New Key").click()
                page.get_by_role("dialog").get_by_label("Label").fill("tax-export")
                page.get_by_role("dialog").get_by_label("Wallet: read").check()
                page.get_by_role("dialog").get_by_label("Spot: trade").check()
                page.get_by_role("dialog").get_by_label("IP allowlist").fill("203.0.113.9")
                page.get_by_role("dialog").evaluate("dialog => { dialog.scrollTop = 0; }")
                shoot(page, "create-key")
                page.keyboard.press("Escape")
                for n in range(24):
                    ip = "203.0.113.7" if n % 5 else "192.0.2.44"
                    partner_request(server, token, key, secret, client_ip=ip, path=SPOT)
                    server.clock.advance(1)
                expect(page.get_by_role("log").get_by_text("IP_NOT_ALLOWED").first).to_be_visible()
                shoot(page, "api-management")
                page.get_by_role("link", name="market-maker").click()
                expect(page.locator("figure.chart canvas").first).to_be_visible()
                page.wait_for_timeout(300)
                shoot(page, "key-usage")
                page.get_by_role("link", name="Security").click()
                expect(page.get_by_role("table", name="Where you are signed in")).to_be_visible()
                shoot(page, "security")
                next_code(server, seed)
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
