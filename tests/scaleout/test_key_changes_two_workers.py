"""Key updates, rolls and expiry notices on two real workers sharing PostgreSQL and Redis:
a change made on one worker holds on the other as soon as Redis carries it there (the bound
a delete has: before the other worker's cached record could expire), and KEY_EXPIRING goes
out once however the workers' sweeps race."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx_ws import AsyncWebSocketSession

from harness.accounts import totp_code
from harness.graphql import gql
from tests.conftest import POSTGRES_URL, REDIS_URL, require_service
from tests.scaleout.cluster import (
    Cluster,
    Key,
    holds_before_cache_expiry,
    new_key,
    real_clock,
    signed_input,
    start_cluster,
    stop_cluster,
    verify,
)
from tests.scaleout.test_two_workers import subscribe_ws, ws_init

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SWEEP_SECONDS = 0.01

UPDATE = """
mutation ($input: UpdateApiKeyInput!) {
  updateApiKey(input: $input) { apiKey { scopes } challenge { id } userErrors { code } }
}
"""
ROLL = """
mutation ($input: RollApiKeyInput!) {
  rollApiKey(input: $input) { challenge { id } userErrors { code } }
}
"""
CONFIRM = """
mutation ($input: VerifyTwoFactorInput!) {
  verifyTwoFactor(input: $input) { secret userErrors { code } }
}
"""
EXPIRING = """
subscription { keyActivity(kinds: [KEY_EXPIRING]) { kind key } }
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two workers sweeping for expiring keys every 10 ms, so their sweeps overlap: with a
    plain (unconditional) claim this test sees duplicates."""
    postgres = require_service("postgres", POSTGRES_URL)
    redis = require_service("redis", REDIS_URL)
    tmp = tmp_path_factory.mktemp("cluster")
    started = start_cluster(postgres, redis, tmp, workers=0)
    try:
        for _ in range(2):
            started.add_server(tmp, GQL_KEYS_EXPIRY_NOTICE_INTERVAL_SECONDS=str(SWEEP_SECONDS))
        yield started
    finally:
        stop_cluster(started, postgres)


def scoped(key: Key, scope: str) -> dict[str, Any]:
    return {**signed_input(key), "requiredScope": scope}


def next_code(key: Key) -> str:
    """A code the server accepts and has not seen: the next step, within the drift."""
    assert key.user.seed is not None
    return totp_code(key.user.seed, real_clock(), step_offset=1)


async def test_a_narrowing_on_one_worker_is_refused_on_the_other_at_once(
    cluster: Cluster,
) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        key = await new_key(client_a, scopes=["SPOT_WRITE", "WALLET_READ"])
        cached_at = time.monotonic()
        for client in (client_a, client_b):  # both workers cache the key now
            answer = await verify(client, cluster.verifier_token, scoped(key, "WALLET_READ"))
            assert answer["code"] == "VALID"
        body = await gql(
            client_a,
            UPDATE,
            {"input": {"id": key.id, "scopes": ["SPOT_WRITE"]}},
            token=key.user.token,
        )
        assert body["data"]["updateApiKey"]["apiKey"]["scopes"] == ["SPOT_WRITE"]

        async def refused_on_b() -> bool:
            answer = await verify(client_b, cluster.verifier_token, scoped(key, "WALLET_READ"))
            assert answer.get("code") in ("VALID", "SCOPE_NOT_GRANTED"), answer
            return bool(answer["code"] == "SCOPE_NOT_GRANTED")

        await holds_before_cache_expiry(refused_on_b, cached_at)


async def test_a_roll_confirmed_on_one_worker_holds_on_the_other_at_once(
    cluster: Cluster,
) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        key = await new_key(client_a)
        cached_at = time.monotonic()
        for client in (client_a, client_b):
            assert (await verify(client, cluster.verifier_token, signed_input(key)))["allowed"]
        body = await gql(
            client_a, ROLL, {"input": {"id": key.id, "overlapSeconds": 0}}, token=key.user.token
        )
        challenge = body["data"]["rollApiKey"]["challenge"]["id"]
        body = await gql(
            client_a,
            CONFIRM,
            {"input": {"challengeId": challenge, "code": next_code(key)}},
            token=key.user.token,
        )
        confirmed = body["data"]["verifyTwoFactor"]
        assert confirmed["userErrors"] == [], confirmed

        async def old_secret_refused_on_b() -> bool:
            old = await verify(client_b, cluster.verifier_token, signed_input(key))
            assert old.get("code") in ("VALID", "INVALID_SIGNATURE"), old
            return bool(old["code"] == "INVALID_SIGNATURE")

        await holds_before_cache_expiry(old_secret_refused_on_b, cached_at)
        rolled = Key(key.id, key.key, confirmed["secret"], key.user)
        assert (await verify(client_b, cluster.verifier_token, signed_input(rolled)))["allowed"]


async def received(
    ws: AsyncWebSocketSession, keys: set[str], seconds: float
) -> list[dict[str, Any]]:
    """Every ``next`` message until one about each of ``keys`` has come (or 30 s have
    passed), then for ``seconds`` more: the time a duplicate has to show up."""
    messages: list[dict[str, Any]] = []

    async def collect() -> None:
        while True:
            message = await ws.receive_json()
            if message["type"] == "next":
                messages.append(message["payload"]["data"]["keyActivity"])
                if keys <= {event.get("key") for event in messages}:
                    return

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            await collect()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                message = await ws.receive_json()
                if message["type"] == "next":
                    messages.append(message["payload"]["data"]["keyActivity"])
    return messages


async def test_key_expiring_is_sent_once_while_both_workers_sweep(cluster: Cluster) -> None:
    a, b = cluster.servers
    async with (
        a.client() as client_a,
        b.client() as client_b,
        subscribe_ws(a.url, client_a) as ws_a,
        subscribe_ws(b.url, client_b) as ws_b,
    ):
        for ws in (ws_a, ws_b):
            await ws_init(ws, cluster.monitor_token)
            await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": EXPIRING}})
        await asyncio.sleep(0.3)  # let both subscriptions register
        expires = datetime.now(UTC) + timedelta(days=3)
        keys = [await new_key(client_a, expiresAt=expires.isoformat()) for _ in range(3)]
        expected = sorted(key.key for key in keys)
        # Both workers sweep every 10 ms: 3 s is hundreds of chances each to send a duplicate.
        seen_a, seen_b = await asyncio.gather(
            received(ws_a, set(expected), 3), received(ws_b, set(expected), 3)
        )
    for seen in (seen_a, seen_b):
        assert all(event["kind"] == "KEY_EXPIRING" for event in seen)
        assert sorted(event["key"] for event in seen) == expected
