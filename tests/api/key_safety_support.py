"""Quarantine, release, canaries and cooling-off through GraphQL, for the key-safety tests."""

from __future__ import annotations

from typing import Any

import httpx

from gql_keys.global_ids import encode_global_id
from gql_keys.models import SecurityEvent
from harness.accounts import TestUser
from harness.graphql import gql

SAFETY_FIELDS = """
  id key status scopes ipAllowlist canary quarantinedAt quarantineReason
  previousSecretExpiresAt pendingChange { effectiveAt scopes ipAllowlist }
"""

QUARANTINE = f"""
mutation ($input: QuarantineApiKeyInput!) {{
  quarantineApiKey(input: $input) {{
    apiKey {{ {SAFETY_FIELDS} }} userErrors {{ field code message }}
  }}
}}
"""

RELEASE = """
mutation ($input: ReleaseApiKeyInput!) {
  releaseApiKey(input: $input) {
    challenge { id expiresAt purpose } userErrors { field code message }
  }
}
"""

CANCEL = f"""
mutation ($input: CancelPendingKeyChangeInput!) {{
  cancelPendingKeyChange(input: $input) {{
    apiKey {{ {SAFETY_FIELDS} }} userErrors {{ field code message }}
  }}
}}
"""

CONFIRM = f"""
mutation ($input: VerifyTwoFactorInput!) {{
  verifyTwoFactor(input: $input) {{
    apiKey {{ {SAFETY_FIELDS} }} secret userErrors {{ field code message }}
  }}
}}
"""

GET = f"query ($id: ID!) {{ apiKey(id: $id) {{ {SAFETY_FIELDS} }} }}"


async def mutate(
    client: httpx.AsyncClient, user: TestUser, document: str, key_id: str
) -> dict[str, Any]:
    """Run one of the mutations above on ``key_id``; its payload."""
    body = await gql(client, document, {"input": {"id": key_id}}, token=user.token)
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    result: dict[str, Any] = payload
    return result


async def confirm(
    client: httpx.AsyncClient, user: TestUser, challenge_id: str, code: str
) -> dict[str, Any]:
    variables = {"input": {"challengeId": challenge_id, "code": code}}
    body = await gql(client, CONFIRM, variables, token=user.token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["verifyTwoFactor"]
    return payload


async def key_state(client: httpx.AsyncClient, user: TestUser, key_id: str) -> dict[str, Any]:
    body = await gql(client, GET, {"id": key_id}, token=user.token)
    assert "errors" not in body, body
    key: dict[str, Any] = body["data"]["apiKey"]
    return key


def key_id(pk: int) -> str:
    return encode_global_id("ApiKey", pk)


async def security_kinds(user_id: int) -> list[str]:
    """The user's security log, oldest first."""
    rows = await SecurityEvent.filter(user_id=user_id).order_by("id")
    return [row.kind for row in rows]
