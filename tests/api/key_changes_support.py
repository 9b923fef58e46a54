"""Updating and rolling keys through GraphQL, and asking the verifier about them."""

from __future__ import annotations

from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gql_keys.broker.events import ActivityEvent
from gql_keys.broker.hub import Subscriber
from gql_keys.graphql.node import decode_int_id
from gql_keys.runtime import Runtime
from harness.accounts import TestUser
from harness.graphql import gql
from harness.keys import VERIFY, verify_input
from tests.api.test_keys import KEY_FIELDS

CHANGED_KEY_FIELDS = KEY_FIELDS + " previousSecretExpiresAt"

UPDATE = f"""
mutation ($input: UpdateApiKeyInput!) {{
  updateApiKey(input: $input) {{
    apiKey {{ {CHANGED_KEY_FIELDS} }}
    challenge {{ id expiresAt purpose }}
    userErrors {{ field code message }}
  }}
}}
"""

ROLL = """
mutation ($input: RollApiKeyInput!) {
  rollApiKey(input: $input) {
    challenge { id expiresAt purpose } userErrors { field code message }
  }
}
"""

CONFIRM = f"""
mutation ($input: VerifyTwoFactorInput!) {{
  verifyTwoFactor(input: $input) {{
    apiKey {{ {CHANGED_KEY_FIELDS} }} secret userErrors {{ field code message }}
  }}
}}
"""

GET = f"query ($id: ID!) {{ apiKey(id: $id) {{ {CHANGED_KEY_FIELDS} }} }}"


async def update(
    client: httpx.AsyncClient, user: TestUser, key_id: str, **changes: Any
) -> dict[str, Any]:
    body = await gql(client, UPDATE, {"input": {"id": key_id, **changes}}, token=user.token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["updateApiKey"]
    return payload


async def roll(
    client: httpx.AsyncClient, user: TestUser, key_id: str, **options: Any
) -> dict[str, Any]:
    body = await gql(client, ROLL, {"input": {"id": key_id, **options}}, token=user.token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["rollApiKey"]
    return payload


async def confirm(
    client: httpx.AsyncClient, user: TestUser, challenge_id: str, code: str
) -> dict[str, Any]:
    body = await gql(
        client, CONFIRM, {"input": {"challengeId": challenge_id, "code": code}}, token=user.token
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["verifyTwoFactor"]
    return payload


async def get_key(client: httpx.AsyncClient, user: TestUser, key_id: str) -> dict[str, Any]:
    body = await gql(client, GET, {"id": key_id}, token=user.token)
    assert "errors" not in body, body
    key: dict[str, Any] = body["data"]["apiKey"]
    return key


async def verify_code(
    client: httpx.AsyncClient,
    rt: Runtime,
    token: str,
    key: str,
    secret: str | Ed25519PrivateKey,
    **request: Any,
) -> str:
    """The verification code a gateway gets for one freshly signed request."""
    data = verify_input(key, secret, now=rt.clock.time(), **request)
    body = await gql(client, VERIFY, {"input": data}, token=token)
    assert "errors" not in body, body
    code: str = body["data"]["verifyApiRequest"]["code"]
    return code


def pk(global_id: str) -> int:
    value = decode_int_id(global_id, "ApiKey")
    assert value is not None
    return value


def drain(subscriber: Subscriber) -> list[ActivityEvent]:
    events: list[ActivityEvent] = []
    while not subscriber.queue.empty():
        events.append(subscriber.queue.get_nowait())
    return events
