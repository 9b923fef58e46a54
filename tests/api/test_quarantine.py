"""Quarantine: a key whose secret may be out still reads and cancels orders, and nothing
else, through every door (``verifyApiRequest``, ``/authz`` in each dialect, partner
``/graphql``), until its owner rolls it, releases it behind a code, or deletes it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from gql_keys.broker.events import ActivityKind
from gql_keys.clock import Clock
from gql_keys.models import ApiKey, UsageLog
from gql_keys.runtime import Runtime
from gql_keys.services import quarantine
from gql_keys.settings import Settings
from harness.accounts import LOCAL_CLIENT, TestUser, next_code, signed_up_user
from harness.apps import serving
from harness.authz import DIALECTS, PartnerRequest, check
from harness.graphql import error_codes, gql
from harness.keys import create_active_key, create_user, verifier_token
from tests.api.key_changes_support import drain, roll, verify_code
from tests.api.key_safety_support import (
    QUARANTINE,
    RELEASE,
    confirm,
    key_state,
    mutate,
    security_kinds,
)
from tests.api.test_keys import DELETE, new_key
from tests.api.test_partner import partner_post

TRADER_SCOPES = ("SPOT_WRITE", "FUTURES_WRITE", "WALLET_WRITE", "WITHDRAW")
ALLOWLIST = ("203.0.113.0/24",)

# (method, path, required scope, code) for a quarantined key holding TRADER_SCOPES.
DECISIONS: list[tuple[str, str, str, str]] = [
    ("GET", "/api/v4/spot/orders", "SPOT_READ", "VALID"),
    ("HEAD", "/api/v4/spot/accounts", "SPOT_READ", "VALID"),
    ("GET", "/api/v4/wallet/total_balance", "WALLET_READ", "VALID"),
    ("DELETE", "/api/v4/spot/orders/12345", "SPOT_WRITE", "VALID"),
    ("DELETE", "/api/v4/spot/orders", "SPOT_WRITE", "VALID"),
    ("DELETE", "/api/v4/spot/price_orders/77", "SPOT_WRITE", "VALID"),
    ("DELETE", "/api/v4/futures/usdt/orders/9", "FUTURES_WRITE", "VALID"),
    ("DELETE", "/api/v4/futures/usdt/price_orders", "FUTURES_WRITE", "VALID"),
    ("POST", "/api/v4/spot/orders", "SPOT_WRITE", "KEY_QUARANTINED"),
    ("PATCH", "/api/v4/spot/orders/12345", "SPOT_WRITE", "KEY_QUARANTINED"),
    ("DELETE", "/api/v4/spot/orders_archive", "SPOT_WRITE", "KEY_QUARANTINED"),
    ("POST", "/api/v4/wallet/transfers", "WALLET_WRITE", "KEY_QUARANTINED"),
    ("DELETE", "/api/v4/wallet/sub_account_transfers/1", "WALLET_WRITE", "KEY_QUARANTINED"),
    ("POST", "/api/v4/withdrawals", "WITHDRAW", "KEY_QUARANTINED"),
    ("GET", "/api/v4/margin/accounts", "MARGIN_READ", "SCOPE_NOT_GRANTED"),
]


async def quarantined_trader(
    rt: Runtime, ip_allowlist: tuple[str, ...] = ALLOWLIST
) -> tuple[ApiKey, str]:
    """A key trading spot and futures and withdrawing, quarantined by its owner."""
    user_id = (await create_user()).id
    row, secret = await create_active_key(
        rt, user_id, scopes=TRADER_SCOPES, ip_allowlist=ip_allowlist
    )
    await quarantine.quarantine_key(rt, user_id, row.id, LOCAL_CLIENT)
    return row, secret


async def test_the_owner_quarantines_a_key_at_once_without_a_code(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    key = (await new_key(client, rt, user))["apiKey"]
    subscriber = rt.hub.subscribe(lambda event: True)
    payload = await mutate(client, user, QUARANTINE, key["id"])
    assert payload["userErrors"] == []
    quarantined = payload["apiKey"]
    assert (quarantined["status"], quarantined["quarantineReason"]) == ("QUARANTINED", "OWNER")
    assert quarantined["quarantinedAt"] is not None
    assert [e.kind for e in drain(subscriber)] == [ActivityKind.KEY_QUARANTINED]
    assert (await security_kinds(user.user_id))[-1] == "KEY_QUARANTINED"
    # Pressing it again changes nothing.
    again = await mutate(client, user, QUARANTINE, key["id"])
    assert again["apiKey"]["quarantinedAt"] == quarantined["quarantinedAt"]
    assert drain(subscriber) == []
    assert (await security_kinds(user.user_id)).count("KEY_QUARANTINED") == 1
    rt.hub.unsubscribe(subscriber)


async def test_a_quarantined_key_still_reads_and_cancels_orders_through_verify_api_request(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    row, secret = await quarantined_trader(rt)
    token = await verifier_token()
    for method, path, scope, expected in DECISIONS:
        code = await verify_code(
            client, rt, token, row.key, secret, method=method, path=path, query="",
            required_scope=scope,
        )  # fmt: skip
        assert code == expected, (method, path)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_quarantined_key_still_reads_and_cancels_orders_through_authz(
    client: httpx.AsyncClient, rt: Runtime, dialect: str
) -> None:
    row, secret = await quarantined_trader(rt)
    token = await verifier_token()
    for method, path, _, expected in DECISIONS:
        request = PartnerRequest(row.key, secret, f"{rt.clock.time():.4f}", method, path, "")
        request.headers["X-Real-IP"] = "203.0.113.7"
        response = await check(client, dialect, request, token)
        assert response.headers["x-verification-code"] == expected, (method, path)
        if expected == "VALID":
            assert response.status_code == 200
        elif expected == "KEY_QUARANTINED":
            assert response.status_code == 403
            assert response.json()["label"] == response.headers["x-error-label"]
            assert response.headers["x-error-label"] == "KEY_QUARANTINED"
            assert "x-api-key-id" not in response.headers


async def test_a_quarantined_key_cannot_call_graphql_as_a_partner(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    row, secret = await quarantined_trader(rt, ip_allowlist=("127.0.0.1",))
    timestamp = f"{rt.clock.time():.3f}"
    body = await partner_post(client, row, secret, "{ currentApiKey { key } }", timestamp=timestamp)
    assert error_codes(body) == ["KEY_QUARANTINED"]
    assert body["data"] is None
    assert (await UsageLog.get(api_key_id=row.id)).code == "KEY_QUARANTINED"


async def test_a_quarantine_holds_at_once_for_a_key_this_worker_has_cached(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, scopes=TRADER_SCOPES, ip_allowlist=ALLOWLIST)
    token = await verifier_token()
    trade: dict[str, Any] = {"method": "POST", "query": "", "required_scope": "SPOT_WRITE"}
    assert await verify_code(client, rt, token, row.key, secret, **trade) == "VALID"
    await quarantine.quarantine_key(rt, user.id, row.id, LOCAL_CLIENT)
    trade["timestamp"] = str(int(rt.clock.time()) + 1)
    assert await verify_code(client, rt, token, row.key, secret, **trade) == "KEY_QUARANTINED"


async def owned_quarantined(client: httpx.AsyncClient, rt: Runtime) -> tuple[TestUser, str, str]:
    """A signed-up owner with a key made through GraphQL and quarantined by them."""
    user = await signed_up_user(client, rt)
    created = await new_key(client, rt, user, scopes=["SPOT_WRITE"])
    key = created["apiKey"]
    assert (await mutate(client, user, QUARANTINE, key["id"]))["userErrors"] == []
    return user, key["id"], created["secret"]


async def test_rolling_a_quarantined_key_kills_the_old_secret_at_once_and_releases_it(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user, global_id, old = await owned_quarantined(client, rt)
    assert user.seed is not None
    key = (await key_state(client, user, global_id))["key"]
    token = await verifier_token()
    challenge = (await roll(client, user, global_id, overlapSeconds=3600))["challenge"]
    subscriber = rt.hub.subscribe(lambda event: True)
    rolled = await confirm(client, user, challenge["id"], next_code(user.seed, rt))
    assert rolled["userErrors"] == []
    assert rolled["apiKey"]["status"] == "ACTIVE"
    assert rolled["apiKey"]["quarantinedAt"] is None
    assert rolled["apiKey"]["previousSecretExpiresAt"] is None  # the overlap forced to 0
    assert [e.kind for e in drain(subscriber)] == [
        ActivityKind.KEY_ROLLED,
        ActivityKind.KEY_RELEASED,
    ]
    trade: dict[str, Any] = {"method": "POST", "query": "", "required_scope": "SPOT_WRITE"}
    assert await verify_code(client, rt, token, key, old, **trade) == "INVALID_SIGNATURE"
    assert await verify_code(client, rt, token, key, rolled["secret"], **trade) == "VALID"
    assert (await security_kinds(user.user_id))[-2:] == ["KEY_ROLLED", "KEY_RELEASED"]
    rt.hub.unsubscribe(subscriber)


async def test_release_needs_a_code_then_the_key_trades_again(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user, global_id, secret = await owned_quarantined(client, rt)
    assert user.seed is not None
    key = (await key_state(client, user, global_id))["key"]
    token = await verifier_token()
    trade: dict[str, Any] = {"method": "POST", "query": "", "required_scope": "SPOT_WRITE"}
    payload = await mutate(client, user, RELEASE, global_id)
    assert payload["challenge"]["purpose"] == "RELEASE_KEY"
    assert (await key_state(client, user, global_id))["status"] == "QUARANTINED"
    assert await verify_code(client, rt, token, key, secret, **trade) == "KEY_QUARANTINED"
    released = await confirm(client, user, payload["challenge"]["id"], next_code(user.seed, rt))
    assert released["userErrors"] == []
    assert released["secret"] is None
    assert (released["apiKey"]["status"], released["apiKey"]["quarantineReason"]) == (
        "ACTIVE",
        None,
    )
    trade["timestamp"] = str(int(rt.clock.time()) + 1)
    assert await verify_code(client, rt, token, key, secret, **trade) == "VALID"
    assert (await security_kinds(user.user_id))[-1] == "KEY_RELEASED"


async def test_a_release_challenge_expires_when_a_leak_report_restarts_the_quarantine(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user, global_id, secret = await owned_quarantined(client, rt)
    assert user.seed is not None
    payload = await mutate(client, user, RELEASE, global_id)
    outcomes = await quarantine.report_leaks(rt, [secret], None)
    assert outcomes[secret].newly_quarantined
    refused = await confirm(client, user, payload["challenge"]["id"], next_code(user.seed, rt))
    assert [e["code"] for e in refused["userErrors"]] == ["CHALLENGE_EXPIRED"]
    state = await key_state(client, user, global_id)
    assert (state["status"], state["quarantineReason"]) == ("QUARANTINED", "LEAK_REPORTED")


async def test_what_cannot_be_quarantined_or_released(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    stranger = await signed_up_user(client, rt)
    key = (await new_key(client, rt, user))["apiKey"]
    canary = (await new_key(client, rt, user, canary=True))["apiKey"]

    def codes(payload: dict[str, Any]) -> list[str]:
        return [e["code"] for e in payload["userErrors"]]

    assert codes(await mutate(client, stranger, QUARANTINE, key["id"])) == ["NOT_FOUND"]
    assert codes(await mutate(client, user, RELEASE, key["id"])) == ["INVALID_INPUT"]
    assert codes(await mutate(client, user, QUARANTINE, canary["id"])) == ["INVALID_INPUT"]
    assert (await key_state(client, user, key["id"]))["status"] == "ACTIVE"


async def test_a_deleted_quarantined_key_fails_as_deleted(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user, global_id, secret = await owned_quarantined(client, rt)
    key = (await key_state(client, user, global_id))["key"]
    body = await gql_delete(client, user, global_id)
    assert body["userErrors"] == []
    token = await verifier_token()
    assert await verify_code(client, rt, token, key, secret) == "KEY_DELETED"


async def gql_delete(client: httpx.AsyncClient, user: TestUser, global_id: str) -> dict[str, Any]:
    body = await gql(client, DELETE, {"input": {"id": global_id}}, token=user.token)
    payload: dict[str, Any] = body["data"]["deleteApiKey"]
    return payload


async def test_a_scope_rules_file_marks_what_a_quarantined_key_may_still_do(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    rules = tmp_path / "scopes.toml"
    rules.write_text(
        "[[rule]]\n"
        'methods = ["POST"]\n'
        'prefix = "/v1/spot/cancel_batch_orders"\n'
        'scope = "SPOT_WRITE"\n'
        "quarantine_allows = true\n"
        "[[rule]]\n"
        'methods = ["DELETE"]\n'
        'prefix = "/v1/spot/orders"\n'
        'scope = "SPOT_WRITE"\n'
        "[[rule]]\n"
        'prefix = "/v1/spot/"\n'
        'scope = "SPOT_WRITE"\n'
    )
    async with serving(settings.with_overrides(scope_rules=str(rules)), clock) as (rt, client):
        row, secret = await quarantined_trader(rt)
        token = await verifier_token()
        request = PartnerRequest(row.key, secret, f"{rt.clock.time():.4f}", "POST", "", "")
        request.headers["X-Real-IP"] = "203.0.113.7"
        for path, expected in (
            ("/v1/spot/cancel_batch_orders", "VALID"),
            ("/v1/spot/orders/1", "KEY_QUARANTINED"),  # not marked: the file replaces
            ("/v1/spot/orders", "KEY_QUARANTINED"),
        ):
            method = "DELETE" if path.startswith("/v1/spot/orders") else "POST"
            response = await check(
                client, "traefik", replace(request, method=method, path=path), token
            )
            assert response.headers["x-verification-code"] == expected, path
