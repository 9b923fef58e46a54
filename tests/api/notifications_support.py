"""Helpers of the notification tests: endpoints made over GraphQL, a delivery worker
driven by hand, and mails caught on their way out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from standardwebhooks import Webhook

from gql_keys.runtime import Runtime
from gql_keys.services.deliveries import DeliveryWorker
from harness.accounts import TestUser, next_code
from harness.graphql import gql
from harness.webhook_receiver import Received

ALL_EVENTS = [
    "KEY_CREATED",
    "KEY_UPDATED",
    "KEY_ROLLED",
    "KEY_DELETED",
    "KEY_EXPIRING",
    "KEY_QUARANTINED",
    "CANARY_TRIPPED",
    "KEY_CHANGE_PENDING",
    "NEW_SIGN_IN",
    "PASSWORD_CHANGED",
    "TWO_FACTOR_DISABLED",
]

CREATE_ENDPOINT = """
mutation ($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    challenge { id purpose } userErrors { field code message }
  }
}
"""

VERIFY_ENDPOINT = """
mutation ($input: VerifyTwoFactorInput!) {
  verifyTwoFactor(input: $input) {
    webhookEndpoint { id url events description disabled createdAt }
    webhookSecret apiKey { id } userErrors { field code message }
  }
}
"""

ENDPOINTS = """
{ webhookEndpoints { id url events disabled
    deliveries(first: 50) { totalCount nodes {
      id type status attempts lastStatusCode nextAttemptAt createdAt } } } }
"""

DELETE_ENDPOINT = """
mutation ($input: DeleteWebhookEndpointInput!) {
  deleteWebhookEndpoint(input: $input) { deletedWebhookEndpointId userErrors { code } }
}
"""

SEND_TEST = """
mutation ($input: SendTestWebhookInput!) {
  sendTestWebhook(input: $input) { delivery { id type status attempts } userErrors { code } }
}
"""


async def ask_endpoint(
    client: httpx.AsyncClient,
    user: TestUser,
    url: str,
    events: list[str] | None = None,
    description: str | None = "tests",
) -> dict[str, Any]:
    """createWebhookEndpoint's payload."""
    body = await gql(
        client,
        CREATE_ENDPOINT,
        {
            "input": {
                "url": url,
                "events": ALL_EVENTS if events is None else events,
                "description": description,
            }
        },
        token=user.token,
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createWebhookEndpoint"]
    return payload


async def new_endpoint(
    client: httpx.AsyncClient,
    rt: Runtime,
    user: TestUser,
    url: str,
    events: list[str] | None = None,
) -> tuple[dict[str, Any], str]:
    """Create and confirm an endpoint: (the endpoint, its signing secret)."""
    asked = await ask_endpoint(client, user, url, events)
    assert asked["userErrors"] == [], asked
    assert asked["challenge"]["purpose"] == "CREATE_WEBHOOK"
    assert user.seed is not None
    body = await gql(
        client,
        VERIFY_ENDPOINT,
        {"input": {"challengeId": asked["challenge"]["id"], "code": next_code(user.seed, rt)}},
        token=user.token,
    )
    payload = body["data"]["verifyTwoFactor"]
    assert payload["userErrors"] == [], payload
    secret: str = payload["webhookSecret"]
    endpoint: dict[str, Any] = payload["webhookEndpoint"]
    return endpoint, secret


async def endpoints(client: httpx.AsyncClient, user: TestUser) -> list[dict[str, Any]]:
    body = await gql(client, ENDPOINTS, token=user.token)
    assert "errors" not in body, body
    rows: list[dict[str, Any]] = body["data"]["webhookEndpoints"]
    return rows


async def deliveries(client: httpx.AsyncClient, user: TestUser) -> list[dict[str, Any]]:
    """The deliveries of the user's first endpoint, newest first."""
    (endpoint, *_) = await endpoints(client, user)
    nodes: list[dict[str, Any]] = endpoint["deliveries"]["nodes"]
    return nodes


class MailBag:
    """Mails handed to the mail channel (type, data, to); ``fail`` makes sending raise."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object], str]] = []
        self.fail = False

    async def __call__(self, type_: str, data: Mapping[str, object], to: str) -> None:
        if self.fail:
            raise ConnectionError("mail server down")
        self.sent.append((type_, dict(data), to))


def worker(rt: Runtime, mails: MailBag | None = None) -> DeliveryWorker:
    return DeliveryWorker(rt, mails or MailBag())


async def deliver_all(rt: Runtime, mails: MailBag | None = None) -> int:
    """Deliver everything due now (several batches); how many were claimed."""
    w = worker(rt, mails)
    total = 0
    try:
        while (claimed := await w.deliver_due()) > 0:
            total += claimed
    finally:
        await w.aclose()
    return total


def verified(secret: str, received: Received) -> dict[str, Any]:
    """The payload, after checking its signature with the standardwebhooks library."""
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    assert payload == json.loads(received.body)
    return payload
