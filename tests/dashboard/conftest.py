"""Browser fixtures: Debian's Chromium driven by Playwright, against a live gql-keys.

Playwright cannot download its own browsers here; it drives the system ``chromium``
(``GQL_KEYS_TEST_CHROMIUM`` names another binary). Without one the browser tests are
skipped with a message; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from harness.browser import CHROMIUM_ARGS, find_chromium
from harness.databases import migrate_url
from harness.journey import Recorder
from harness.live_server import LiveServer, settings_for
from tests.conftest import IN_CI

T = TypeVar("T")

# A busy two-core CI machine can take more than Playwright's default 5 s to show a change.
expect.set_options(timeout=10_000)

# Every CSP or Trusted Types refusal fires this event; echo it to the console we record.
REPORT_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) =>
  console.error(`securitypolicyviolation: ${e.effectiveDirective} ${e.blockedURI}`));
"""


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        message = "no Chromium found (apt-get install chromium, or set GQL_KEYS_TEST_CHROMIUM)"
        if IN_CI:
            pytest.fail(f"browser tests need Chromium under CI=true: {message}")
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


def in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to the end in another thread: Playwright's sync API keeps an event
    loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def live_server(folder: Path, database_url: str) -> LiveServer:
    in_thread(migrate_url(database_url))
    master_key = base64.b64encode(secrets.token_bytes(32)).decode()
    return LiveServer(settings_for(folder / "data", database_url, master_key))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server per module, on a fresh migrated SQLite database (Tortoise keeps one
    global context per process: one live server at a time)."""
    folder = tmp_path_factory.mktemp("dashboard")
    live = live_server(folder, f"sqlite://{folder / 'gql-keys.sqlite3'}")
    live.start()
    yield live
    live.stop()


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url, viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def recorder(page: Page, server: LiveServer) -> Recorder:
    """Everything the page logged to the console and every URL it requested or opened a
    WebSocket to."""
    seen = Recorder(origin=server.url)

    def on_console(message: ConsoleMessage) -> None:
        seen.console.append(f"{message.type}: {message.text}")

    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", on_console)
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on("websocket", lambda socket: seen.requests.append(socket.url))
    return seen
