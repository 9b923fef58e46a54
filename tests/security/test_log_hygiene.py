"""Every mutation, driven with logging at DEBUG: no secret it used reaches the log."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import httpx

from gql_keys.runtime import Runtime
from gql_keys.security.keymaterial import new_secret
from harness.accounts import (
    BEGIN_SETUP,
    CONFIRM_SETUP,
    LOGIN,
    REGISTER,
    next_code,
    previous_step_code,
)
from harness.graphql import gql as send
from harness.keys import VERIFY, verifier_token, verify_input
from tests.security.conftest import LogCapture

PASSWORD = "Tr0ub4dor & 3 hygiene passphrase"
CREATE_KEY = """
mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { challenge { id } userErrors { code } }
}
"""
VERIFY_TWO_FACTOR = """
mutation ($input: VerifyTwoFactorInput!) {
  verifyTwoFactor(input: $input) { apiKey { id key } secret userErrors { code } }
}
"""
DELETE_KEY = """
mutation ($input: DeleteApiKeyInput!) {
  deleteApiKey(input: $input) { deletedApiKeyId userErrors { code } }
}
"""
LOGOUT = "mutation { logout { userErrors { code } } }"

# Stands for any code that dumps GraphQL arguments or results at DEBUG (a resolver, a
# middleware, a library): the redacting filter must scrub whatever it writes.
dump = logging.getLogger("gql_keys.tests.dump")


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> dict[str, Any]:
    dump.debug("request %s variables=%s token=%s", query, variables, token)
    dump.debug("request variables", extra={"variables": variables, "authorization": token})
    body = await send(client, query, variables, token=token)
    dump.debug("response %s", body)
    dump.debug("response as JSON %s", json.dumps(body))
    return body


def data(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][field]
    return payload


async def test_no_secret_used_by_any_mutation_reaches_the_log(
    client: httpx.AsyncClient, rt: Runtime, captured_logs: LogCapture
) -> None:
    secrets: dict[str, str] = {"password": PASSWORD}
    codes: list[str] = []
    email = "hygiene@example.com"

    assert data(
        await gql(client, REGISTER, {"input": {"email": email, "password": PASSWORD}}), "register"
    )["user"]
    # A failed login with a secret-looking wrong password is logged nowhere either.
    wrong = "gqks_" + new_secret()[5:]
    secrets["wrong password"] = wrong
    await gql(client, LOGIN, {"input": {"email": email, "password": wrong}})
    login = data(
        await gql(client, LOGIN, {"input": {"email": email, "password": PASSWORD}}), "login"
    )
    token = secrets["session token"] = login["token"]

    begun = data(
        await gql(client, BEGIN_SETUP, {"input": {"password": PASSWORD}}, token=token),
        "beginTwoFactorSetup",
    )
    seed = secrets["seed"] = begun["secret"]
    secrets["otpauth uri"] = begun["otpauthUri"]
    confirm_code = await previous_step_code(seed, rt)
    codes.append(confirm_code)
    confirmed = data(
        await gql(client, CONFIRM_SETUP, {"input": {"code": confirm_code}}, token=token),
        "confirmTwoFactorSetup",
    )
    for i, recovery in enumerate(confirmed["recoveryCodes"]):
        secrets[f"recovery code {i}"] = recovery

    challenge = data(
        await gql(
            client,
            CREATE_KEY,
            {"input": {"label": "hygiene", "scopes": ["SPOT_WRITE"]}},
            token=token,
        ),
        "createApiKey",
    )["challenge"]["id"]
    # A wrong code first (logged as a failure, never as the code itself), then the right one.
    right_code = next_code(seed, rt)
    wrong_code = f"{(int(right_code) + 1) % 1_000_000:06d}"
    codes += [right_code, wrong_code]
    await gql(
        client,
        VERIFY_TWO_FACTOR,
        {"input": {"challengeId": challenge, "code": wrong_code}},
        token=token,
    )
    verified = data(
        await gql(
            client,
            VERIFY_TWO_FACTOR,
            {"input": {"challengeId": challenge, "code": right_code}},
            token=token,
        ),
        "verifyTwoFactor",
    )
    api_secret = secrets["api secret"] = verified["secret"]
    key = verified["apiKey"]["key"]

    gateway = secrets["service token"] = await verifier_token(name="hygiene-gateway")
    good = verify_input(key, api_secret, now=rt.clock.time(), method="POST")
    bad = verify_input(key, "gqks_" + "x" * 40, now=rt.clock.time(), method="POST")
    secrets["signature"] = good["signature"]
    secrets["bad signature"] = bad["signature"]
    assert data(await gql(client, VERIFY, {"input": good}, token=gateway), "verifyApiRequest")[
        "allowed"
    ]
    assert not data(await gql(client, VERIFY, {"input": bad}, token=gateway), "verifyApiRequest")[
        "allowed"
    ]

    deleted = data(
        await gql(client, DELETE_KEY, {"input": {"id": verified["apiKey"]["id"]}}, token=token),
        "deleteApiKey",
    )
    assert deleted["deletedApiKeyId"]
    assert data(await gql(client, LOGOUT, token=token), "logout")["userErrors"] == []

    log = captured_logs.text
    assert "gql_keys.tests.dump" in log
    assert "[REDACTED]" in log
    for line in log.splitlines():
        json.loads(line)
    for name, secret in secrets.items():
        assert secret not in log, f"{name} leaked into the log"
        for part in (secret[:24], secret[-24:]) if len(secret) >= 40 else ():
            assert part not in log, f"part of the {name} leaked into the log"
    for code in codes:
        assert not re.search(rf"(?<!\d){code}(?!\d)", log), f"TOTP code {code} leaked"
