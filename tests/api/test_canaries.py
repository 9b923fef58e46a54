"""Canary keys: created like any key, never verified, answered at the gateway exactly like
an unknown key, and reported to their owner (CANARY_TRIPPED, with the caller's address)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from gql_keys.broker.events import ActivityKind
from gql_keys.clock import Clock
from gql_keys.models import ApiKey, SecurityEvent, UsageLog
from gql_keys.runtime import Runtime
from gql_keys.security.keymaterial import new_public_key_id
from gql_keys.settings import Settings
from harness.accounts import signed_up_user
from harness.apps import serving
from harness.authz import DIALECTS, PartnerRequest, check_request
from harness.graphql import gql
from harness.keys import (
    VERIFY,
    create_active_key,
    create_user,
    sign_request,
    verifier_token,
    verify_input,
)
from tests.api.key_changes_support import drain
from tests.api.test_keys import new_key

REQUEST_ID = "canary-or-not-0001"


async def planted(rt: Runtime) -> tuple[ApiKey, str]:
    user = await create_user()
    return await create_active_key(rt, user.id, scopes=("SPOT_WRITE",), canary=True)


def authz_request(rt: Runtime, key: str, secret: str, **changes: Any) -> PartnerRequest:
    request = PartnerRequest(key, secret, f"{rt.clock.time():.4f}")
    request.headers.update({"X-Real-IP": "203.0.113.7", "X-Request-Id": REQUEST_ID})
    return replace(request, **changes)


async def alerts(user_id: int) -> list[SecurityEvent]:
    return await SecurityEvent.filter(user_id=user_id, kind="CANARY_TRIPPED").order_by("id")


async def test_a_canary_is_created_like_any_key_and_never_expires_by_itself(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    payload = await new_key(client, rt, user, label="aws-backup-creds", canary=True)
    assert payload["secret"].startswith("gqks_")
    body = await gql(
        client,
        "query ($id: ID!) { apiKey(id: $id) { canary status expiresAt expiryClamped } }",
        {"id": payload["apiKey"]["id"]},
        token=user.token,
    )
    assert body["data"]["apiKey"] == {
        "canary": True,
        "status": "ACTIVE",
        "expiresAt": None,  # no 90-day cap: it must keep tripping while planted
        "expiryClamped": False,
    }
    unused = await gql(client, "{ apiKeys(unusedForDays: 0) { totalCount } }", token=user.token)
    assert unused["data"]["apiKeys"]["totalCount"] == 0  # never a "delete unused" candidate


@pytest.mark.parametrize("signed", [True, False])
async def test_verify_api_request_denies_a_canary_as_canary_tripped(
    client: httpx.AsyncClient, rt: Runtime, signed: bool
) -> None:
    row, secret = await planted(rt)
    data = verify_input(row.key, secret, now=rt.clock.time())
    if not signed:
        data["signature"] = "00" * 64
    body = await gql(client, VERIFY, {"input": data}, token=await verifier_token())
    assert body["data"]["verifyApiRequest"] == {
        "allowed": False,
        "code": "CANARY_TRIPPED",
        "apiKey": None,
        "rateLimit": None,
        "userErrors": [],
    }
    await rt.background.drain()
    (alert,) = await alerts(row.user_id)
    assert (alert.client_ip, alert.api_key_id) == ("203.0.113.7", row.id)
    log = await UsageLog.get(api_key_id=row.id)
    assert (log.code, log.allowed) == ("CANARY_TRIPPED", False)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("signed", [True, False])
async def test_authz_answers_a_canary_byte_for_byte_like_an_unknown_key(
    client: httpx.AsyncClient, rt: Runtime, dialect: str, signed: bool
) -> None:
    row, secret = await planted(rt)
    token = await verifier_token()
    signature = None if signed else "ab" * 64
    canary = authz_request(rt, row.key, secret, signature=signature)
    unknown = replace(canary, key=new_public_key_id())
    answers = [
        await client.request(**check_request(dialect, request, token))
        for request in (canary, unknown)
    ]
    tripped, missing = answers
    assert tripped.status_code == missing.status_code == 401
    assert tripped.headers.raw == missing.headers.raw
    assert tripped.content == missing.content
    assert tripped.headers["x-verification-code"] == "KEY_NOT_FOUND"
    assert tripped.json()["label"] == "INVALID_KEY"
    # Only the owner learns what it was.
    logs = await UsageLog.all().order_by("id")
    assert [(log.code, log.api_key_id) for log in logs] == [
        ("CANARY_TRIPPED", row.id),
        ("KEY_NOT_FOUND", None),
    ]


async def test_a_partner_call_with_a_canary_looks_like_one_with_an_unknown_key(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    row, secret = await planted(rt)
    timestamp = f"{rt.clock.time():.3f}"
    body = json.dumps({"query": "{ currentApiKey { key } }"}).encode()
    answers = []
    for key in (row.key, new_public_key_id()):
        headers = sign_request(secret, "POST", "/graphql", "", body, timestamp, key=key)
        headers.update({"content-type": "application/json", "X-Request-Id": REQUEST_ID})
        answers.append(await client.post("/graphql", content=body, headers=headers))
    tripped, missing = answers
    assert tripped.status_code == missing.status_code
    assert tripped.headers.raw == missing.headers.raw
    assert tripped.content == missing.content
    assert tripped.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    await rt.background.drain()
    (alert,) = await alerts(row.user_id)
    assert alert.client_ip == "127.0.0.1"


async def test_the_owner_hears_of_each_address_once_a_minute_and_sees_every_use(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    row, secret = await planted(rt)
    token = await verifier_token()
    subscriber = rt.hub.subscribe(lambda event: event.owner_id == row.user_id)
    for address in ("203.0.113.7", "203.0.113.7", "203.0.113.7", "198.51.100.4"):
        request = authz_request(rt, row.key, secret)
        request.headers["X-Real-IP"] = address
        response = await client.request(**check_request("nginx", request, token))
        assert response.status_code == 401
    await rt.background.drain()
    assert [a.client_ip for a in await alerts(row.user_id)] == ["203.0.113.7", "198.51.100.4"]
    events = drain(subscriber)
    tripped = [e for e in events if e.kind is ActivityKind.CANARY_TRIPPED]
    assert [(e.client_ip, e.key, e.code, e.path) for e in tripped] == [
        ("203.0.113.7", row.key, "CANARY_TRIPPED", "/api/v4/spot/orders"),
        ("198.51.100.4", row.key, "CANARY_TRIPPED", "/api/v4/spot/orders"),
    ]
    denied = [e for e in events if e.kind is ActivityKind.KEY_DENIED]
    assert [e.code for e in denied] == ["CANARY_TRIPPED"] * 4
    assert await UsageLog.filter(api_key_id=row.id, code="CANARY_TRIPPED").count() == 4
    rt.hub.unsubscribe(subscriber)


async def test_a_canary_trips_even_past_the_unsigned_failure_throttle(
    settings: Settings, clock: Clock
) -> None:
    """Someone trying stolen keys one after the other is throttled like anyone guessing;
    the canary among them still reaches its owner, and still looks like an unknown key."""
    throttled = settings.with_overrides(unsigned_failures_per_minute=2)
    async with serving(throttled, clock) as (rt, client):
        row, secret = await planted(rt)
        token = await verifier_token()
        for _ in range(2):
            guess = authz_request(rt, new_public_key_id(), secret)
            response = await client.request(**check_request("envoy", guess, token))
            assert response.status_code == 401
        canary = authz_request(rt, row.key, secret)
        unknown = replace(canary, key=new_public_key_id())
        tripped = await client.request(**check_request("envoy", canary, token))
        missing = await client.request(**check_request("envoy", unknown, token))
        assert tripped.status_code == missing.status_code == 429
        assert tripped.content == missing.content
        await rt.background.drain()
        assert len(await alerts(row.user_id)) == 1
