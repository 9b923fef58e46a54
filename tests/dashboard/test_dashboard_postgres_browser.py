"""The whole dashboard journey once more, on PostgreSQL (the other module runs it, and the
rest of the browser tests, on SQLite)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from harness.databases import create_postgres_database, drop_postgres_database
from harness.journey import Recorder, walk_the_whole_journey
from harness.live_server import LiveServer
from tests.conftest import POSTGRES_URL, require_service
from tests.dashboard.conftest import in_thread, live_server

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server on a fresh PostgreSQL database, dropped afterwards."""
    base = require_service("postgres", POSTGRES_URL)
    url = in_thread(create_postgres_database(base, f"gql_keys_dash_{secrets.token_hex(4)}"))
    live = live_server(tmp_path_factory.mktemp("dashboard-pg"), url)
    live.start()
    yield live
    live.stop()
    in_thread(drop_postgres_database(base, url))


def test_journey_from_new_account_to_signed_out_on_postgres(
    page: Page, server: LiveServer, recorder: Recorder
) -> None:
    walk_the_whole_journey(page, server, recorder)
