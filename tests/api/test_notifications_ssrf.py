"""No server-side request forgery, as production runs it (private destinations refused):
https to public addresses only, INVALID_INPUT at creation."""

from __future__ import annotations

import httpx
import pytest

from gql_keys.runtime import Runtime
from gql_keys.settings import Settings
from harness.accounts import signed_up_user
from tests.api.notifications_support import ask_endpoint, endpoints


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(webhook_allow_private=False, notification_delivery=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8/hooks",  # not https
        "https://127.0.0.1/hooks",
        "https://10.0.0.1/hooks",
        "https://192.168.0.10/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://[::ffff:10.0.0.1]/hooks",
        "https://localhost/hooks",  # resolves to loopback
    ],
)
async def test_creating_an_endpoint_to_a_private_or_plain_http_url_is_invalid_input(
    client: httpx.AsyncClient, rt: Runtime, url: str
) -> None:
    user = await signed_up_user(client, rt)
    refused = await ask_endpoint(client, user, url)
    assert refused["challenge"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("INVALID_INPUT", ["input", "url"])
    ]
    assert await endpoints(client, user) == []


async def test_a_public_https_url_is_accepted(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    asked = await ask_endpoint(client, user, "https://8.8.8.8/hooks")
    assert asked["userErrors"] == []
    assert asked["challenge"]["purpose"] == "CREATE_WEBHOOK"
