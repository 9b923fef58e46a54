"""Flooding an owner through a known key id: anonymous requests with the victim's
``KEY`` and a junk ``SIGN`` wrote rows into the victim's usage logs, rollups and live
events without limit. Failures before a valid signature are now throttled per client
address (``unsigned_failures_per_minute``): past the limit they are answered
``RATE_LIMITED`` without touching the key's quota, and only one summary row is written
for the rest of that minute. Valid signatures from the same address still pass."""

from __future__ import annotations

import json
import secrets

import httpx

from gql_keys.clock import Clock
from gql_keys.models import UsageLog
from gql_keys.runtime import Runtime, build_runtime
from gql_keys.scopes import Scope
from gql_keys.services.verification import SignedRequest, VerificationCode, verify
from gql_keys.settings import Settings
from harness.authz import PartnerRequest, check
from harness.graphql import gql
from harness.keys import (
    VERIFY,
    create_active_key,
    create_user,
    sign_request,
    verifier_token,
    verify_input,
)
from tests.conftest import REDIS_URL, require_service

FLOODER = "198.51.100.9"


def start_of_a_minute(rt: Runtime) -> float:
    """Move the clock to one second into the next minute, so the test stays in it."""
    rt.clock.advance(60 - rt.clock.time() % 60 + 1)
    return rt.clock.time()


async def rows_of(key_id: int) -> list[str]:
    return [row.code for row in await UsageLog.filter(api_key_id=key_id).order_by("id")]


async def test_junk_signatures_with_a_victims_key_id_stop_filling_their_logs(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    limit = rt.settings.unsigned_failures_per_minute
    victim = await create_user()
    key, secret = await create_active_key(rt, victim.id, scopes=("SPOT_READ",))
    token = await verifier_token()
    now = start_of_a_minute(rt)
    codes = []
    for _ in range(limit + 40):
        data = verify_input(key.key, secret, now=now, client_ip=FLOODER)
        data["signature"] = "0" * 128
        body = await gql(client, VERIFY, {"input": data}, token=token)
        codes.append(body["data"]["verifyApiRequest"]["code"])
    assert codes == ["INVALID_SIGNATURE"] * limit + ["RATE_LIMITED"] * 40
    # The address's throttle answered: no key quota was used, so no rateLimit for it.
    assert body["data"]["verifyApiRequest"]["rateLimit"] is None
    assert await rows_of(key.id) == ["INVALID_SIGNATURE"] * limit + ["RATE_LIMITED"]

    # The key's own quota is untouched, and its partner still gets through, even from
    # the flooding address.
    for address in ("203.0.113.7", FLOODER):
        body = await gql(
            client,
            VERIFY,
            {"input": verify_input(key.key, secret, now=now, client_ip=address)},
            token=token,
        )
        result = body["data"]["verifyApiRequest"]
        assert (result["allowed"], result["code"]) == (True, "VALID")
    assert result["rateLimit"]["remaining"] == result["rateLimit"]["limit"] - 2

    # A new minute counts again.
    rt.clock.advance(60)
    data = verify_input(key.key, secret, now=rt.clock.time(), client_ip=FLOODER)
    data["signature"] = "0" * 128
    body = await gql(client, VERIFY, {"input": data}, token=token)
    assert body["data"]["verifyApiRequest"]["code"] == "INVALID_SIGNATURE"


async def test_unknown_keys_and_stale_timestamps_count_against_the_same_address(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    limit = rt.settings.unsigned_failures_per_minute
    victim = await create_user()
    key, _ = await create_active_key(rt, victim.id)
    now = start_of_a_minute(rt)

    def request(key_id: str, timestamp: str) -> SignedRequest:
        return SignedRequest(
            key=key_id,
            signature="0" * 128,
            timestamp=timestamp,
            method="GET",
            path="/api/v4/spot/orders",
            query="",
            body_sha512="0" * 128,
            client_ip=FLOODER,
            required_scope=Scope.SPOT_READ,
        )

    half = limit // 2
    for _ in range(half):
        assert (await verify(rt, request("no-such-key", str(int(now))))).code is (
            VerificationCode.KEY_NOT_FOUND
        )
    for _ in range(limit - half):
        decision = await verify(rt, request(key.key, str(int(now) - 3600)))
        assert decision.code is VerificationCode.TIMESTAMP_OUT_OF_WINDOW
    decision = await verify(rt, request(key.key, str(int(now) - 3600)))
    assert decision.code is VerificationCode.RATE_LIMITED
    assert not decision.allowed
    assert decision.rate is None  # the key's quota was not counted
    assert decision.retry_at is not None
    assert decision.retry_at > now


async def test_partner_graphql_calls_with_junk_signatures_are_throttled_too(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    limit = rt.settings.unsigned_failures_per_minute
    victim = await create_user()
    key, secret = await create_active_key(rt, victim.id)
    now = start_of_a_minute(rt)
    body = json.dumps({"query": "{ currentApiKey { id } }"}).encode()
    for _ in range(limit + 20):
        headers = sign_request(secret, "POST", "/graphql", "", body, str(int(now)), key=key.key)
        headers["SIGN"] = "0" * 128
        headers["content-type"] = "application/json"
        response = await client.post("/graphql", content=body, headers=headers)
        assert response.json()["data"] is None
    assert len(await rows_of(key.id)) == limit + 1


async def test_forward_auth_checks_with_junk_signatures_are_answered_429_unlogged(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    limit = rt.settings.unsigned_failures_per_minute
    victim = await create_user()
    key, secret = await create_active_key(rt, victim.id, scopes=("SPOT_READ",))
    verifier = await verifier_token()
    start_of_a_minute(rt)
    junk = PartnerRequest(
        key=key.key, secret=secret, timestamp=f"{rt.clock.time():.4f}", signature="0" * 128
    )
    junk.headers["X-Real-IP"] = FLOODER
    statuses = [(await check(client, "nginx", junk, verifier)).status_code for _ in range(limit)]
    assert statuses == [401] * limit
    throttled = await check(client, "nginx", junk, verifier)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) <= 60
    # No key quota was used: no X-RateLimit-* describing the address's throttle.
    assert not [name for name in throttled.headers if name.lower().startswith("x-ratelimit")]
    for _ in range(10):
        assert (await check(client, "nginx", junk, verifier)).status_code == 429
    assert len(await rows_of(key.id)) == limit + 1


async def test_the_throttle_is_shared_through_redis(
    settings: Settings, clock: Clock, rt: Runtime
) -> None:
    """Two apps (two workers) on one Redis count one address's failures together."""
    redis_url = require_service("redis", REDIS_URL)
    shared = settings.with_overrides(
        redis_url=redis_url, redis_prefix=f"test-{secrets.token_hex(4)}"
    )
    victim = await create_user()
    key, _ = await create_active_key(rt, victim.id)
    now = start_of_a_minute(rt)
    limit = rt.settings.unsigned_failures_per_minute
    junk = SignedRequest(
        key=key.key,
        signature="0" * 128,
        timestamp=str(int(now)),
        method="GET",
        path="/api/v4/spot/orders",
        query="",
        body_sha512="0" * 128,
        client_ip=FLOODER,
        required_scope=Scope.SPOT_READ,
    )
    workers = [build_runtime(shared, clock) for _ in range(2)]
    for worker in workers:
        await worker.start()
    try:
        codes = [(await verify(workers[i % 2], junk)).code for i in range(limit + 2)]
    finally:
        for worker in workers:
            await worker.close()
    assert (
        codes == [VerificationCode.INVALID_SIGNATURE] * limit + [VerificationCode.RATE_LIMITED] * 2
    )
