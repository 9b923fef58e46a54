"""Calling the account security centre over GraphQL, as a browser with a user agent would."""

from __future__ import annotations

from typing import Any

import httpx

from harness.accounts import LOGIN
from harness.graphql import gql

USER_AGENT = "Mozilla/5.0 (security-centre tests)"
BROWSER = {"User-Agent": USER_AGENT}
# The address the test client connects from (see the ``client`` fixture).
CLIENT_IP = "127.0.0.1"

EVENTS = """
query ($first: Int, $after: String) {
  securityEvents(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id } }
    nodes { id kind occurredAt ip userAgent apiKey { id } }
  }
}
"""

SESSIONS = "{ sessions { id createdAt lastSeenAt ip userAgent current } }"

CHANGE_PASSWORD = """
mutation ($input: ChangePasswordInput!) {
  changePassword(input: $input) { user { id email } userErrors { field code message } }
}
"""

REVOKE_SESSION = """
mutation ($input: RevokeSessionInput!) {
  revokeSession(input: $input) { revokedSessionId userErrors { field code message } }
}
"""

REGENERATE = """
mutation ($input: RegenerateRecoveryCodesInput!) {
  regenerateRecoveryCodes(input: $input) { recoveryCodes userErrors { field code message } }
}
"""

DISABLE = """
mutation ($input: DisableTwoFactorInput!) {
  disableTwoFactor(input: $input) {
    user { id twoFactorEnabled } userErrors { field code message }
  }
}
"""

LOGOUT = "mutation { logout { userErrors { code } } }"

NODE = """
query ($id: ID!) {
  node(id: $id) {
    id
    ... on SecurityEvent { kind }
    ... on Session { current }
  }
}
"""


async def call(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """Run an operation from the test "browser"; the body, asserting no top-level errors."""
    body = await gql(client, query, variables, token=token, headers=BROWSER)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def mutate(
    client: httpx.AsyncClient, name: str, query: str, data: dict[str, Any], token: str
) -> dict[str, Any]:
    """One mutation's payload."""
    payload: dict[str, Any] = (await call(client, query, {"input": data}, token))[name]
    return payload


async def login(
    client: httpx.AsyncClient, email: str, password: str, totp: str | None = None
) -> dict[str, Any]:
    """The ``login`` payload (token and userErrors), from the test browser."""
    data = await call(
        client, LOGIN, {"input": {"email": email, "password": password, "totpCode": totp}}
    )
    payload: dict[str, Any] = data["login"]
    return payload


async def events(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    """The viewer's whole security log, newest first."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = (await call(client, EVENTS, {"first": 100, "after": after}, token))["securityEvents"]
        found.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


class EventLog:
    """Reads what an action added to a user's log (oldest first)."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.token = token
        self.seen = 0

    async def start(self) -> EventLog:
        self.seen = len(await events(self.client, self.token))
        return self

    async def new(self) -> list[dict[str, Any]]:
        rows = await events(self.client, self.token)
        added = rows[: len(rows) - self.seen]
        self.seen = len(rows)
        return list(reversed(added))

    async def new_kinds(self) -> list[str]:
        added = await self.new()
        for event in added:
            assert event["ip"] == CLIENT_IP, event
            assert event["userAgent"] == USER_AGENT, event
        return [event["kind"] for event in added]


def error_codes_of(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


CREATE_KEY = """
mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { challenge { id } userErrors { field code message } }
}
"""

CONFIRM_KEY = """
mutation ($input: VerifyTwoFactorInput!) {
  verifyTwoFactor(input: $input) { apiKey { id } userErrors { field code message } }
}
"""

DELETE_KEY = """
mutation ($input: DeleteApiKeyInput!) {
  deleteApiKey(input: $input) { deletedApiKeyId userErrors { field code message } }
}
"""


async def create_challenge(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    """The ``createApiKey`` payload for a plain key."""
    data = {"label": "security centre", "scopes": ["SPOT_READ"]}
    return await mutate(client, "createApiKey", CREATE_KEY, data, token)


async def confirm_key(
    client: httpx.AsyncClient, token: str, challenge_id: str, code: str
) -> dict[str, Any]:
    data = {"challengeId": challenge_id, "code": code}
    return await mutate(client, "verifyTwoFactor", CONFIRM_KEY, data, token)


async def delete_key(client: httpx.AsyncClient, token: str, key_id: str) -> dict[str, Any]:
    return await mutate(client, "deleteApiKey", DELETE_KEY, {"id": key_id}, token)
