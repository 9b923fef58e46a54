"""Quarantine and cooling-off on two real workers sharing PostgreSQL and Redis: a quarantine
made on one worker (by its owner, or by ``gql-keys keys report-leak`` from the command line)
holds on the other as soon as Redis carries it there, as a delete does; a cooled-off WITHDRAW
takes effect on both, and ``KEY_UPDATED`` goes out once however their sweeps race."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.graphql import gql
from tests.conftest import POSTGRES_URL, REDIS_URL, require_service
from tests.scaleout.cluster import (
    BIN,
    Cluster,
    Key,
    holds_before_cache_expiry,
    new_key,
    signed_input,
    start_cluster,
    stop_cluster,
    verify,
)
from tests.scaleout.test_two_workers import subscribe_ws, ws_init

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

COOLING_OFF_SECONDS = 3
QUARANTINE = """
mutation ($input: QuarantineApiKeyInput!) {
  quarantineApiKey(input: $input) { apiKey { status } userErrors { code } }
}
"""
LIFECYCLE = """
subscription { keyActivity(kinds: [KEY_CHANGE_PENDING, KEY_UPDATED]) { kind key } }
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two workers with a 3-second cooling-off, each looking for due changes every 0.2 s
    besides waking for the ones it started: with an unconditional apply, duplicates show."""
    postgres = require_service("postgres", POSTGRES_URL)
    redis = require_service("redis", REDIS_URL)
    tmp = tmp_path_factory.mktemp("cluster")
    started = start_cluster(postgres, redis, tmp, workers=0)
    try:
        for _ in range(2):
            started.add_server(
                tmp,
                GQL_KEYS_WITHDRAW_COOLING_OFF_SECONDS=str(COOLING_OFF_SECONDS),
                GQL_KEYS_COOLING_OFF_INTERVAL_SECONDS="0.2",
            )
        yield started
    finally:
        stop_cluster(started, postgres)


def trade(key: Key, offset: float = 0.0) -> dict[str, Any]:
    """A signed order placement (each offset a distinct request: no replay)."""
    request = signed_input(
        key, "POST", "/api/v4/spot/orders", timestamp=f"{time.time() + offset:.6f}"
    )
    return {**request, "requiredScope": "SPOT_WRITE"}


def cancel(key: Key) -> dict[str, Any]:
    request = signed_input(key, "DELETE", "/api/v4/spot/orders/42")
    return {**request, "requiredScope": "SPOT_WRITE"}


async def quarantine_holds_on(cluster: Cluster, key: Key, cached_at: float, index: int) -> None:
    """Poll worker ``index`` until an order placement is KEY_QUARANTINED, before its cached
    copy of the key could expire by itself; reads and cancellations still pass there."""
    server = cluster.servers[index]
    async with server.client() as client:
        offsets = iter(range(1, 10_000))

        async def refused() -> bool:
            answer = await verify(client, cluster.verifier_token, trade(key, next(offsets) / 1000))
            assert answer.get("code") in ("VALID", "KEY_QUARANTINED"), answer
            return bool(answer["code"] == "KEY_QUARANTINED")

        await holds_before_cache_expiry(refused, cached_at)
        read = await verify(client, cluster.verifier_token, signed_input(key))
        assert read["code"] == "VALID"
        assert (await verify(client, cluster.verifier_token, cancel(key)))["code"] == "VALID"


async def cache_on_both(cluster: Cluster, key: Key) -> float:
    cached_at = time.monotonic()
    for offset, server in enumerate(cluster.servers):
        async with server.client() as client:
            answer = await verify(client, cluster.verifier_token, trade(key, -offset - 1))
            assert answer["code"] == "VALID", answer
    return cached_at


async def test_a_quarantine_on_one_worker_holds_on_the_other_at_once(cluster: Cluster) -> None:
    a, _ = cluster.servers
    async with a.client() as client_a:
        key = await new_key(client_a)
        cached_at = await cache_on_both(cluster, key)
        body = await gql(client_a, QUARANTINE, {"input": {"id": key.id}}, token=key.user.token)
        assert body["data"]["quarantineApiKey"]["apiKey"]["status"] == "QUARANTINED"
    await quarantine_holds_on(cluster, key, cached_at, 1)


async def test_a_leak_reported_from_the_command_line_reaches_every_worker(
    cluster: Cluster,
) -> None:
    a, _ = cluster.servers
    async with a.client() as client_a:
        key = await new_key(client_a)
    cached_at = await cache_on_both(cluster, key)
    done = await asyncio.to_thread(
        subprocess.run,
        [str(BIN), "keys", "report-leak"],
        input=key.secret,
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == key.key
    for index in (0, 1):
        await quarantine_holds_on(cluster, key, cached_at, index)


async def lifecycle_events(ws: Any, seconds: float) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                message = await ws.receive_json()
                if message["type"] == "next":
                    event = message["payload"]["data"]["keyActivity"]
                    seen.append((event["kind"], event["key"]))
    return seen


async def test_a_cooled_off_withdraw_takes_effect_on_both_workers_announced_once(
    cluster: Cluster,
) -> None:
    a, b = cluster.servers
    async with (
        a.client() as client_a,
        b.client() as client_b,
        subscribe_ws(a.url, client_a) as ws_a,
        subscribe_ws(b.url, client_b) as ws_b,
    ):
        for ws in (ws_a, ws_b):
            await ws_init(ws, cluster.monitor_token)
            await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": LIFECYCLE}})
        await asyncio.sleep(0.3)  # let both subscriptions register
        key = await new_key(
            client_a, scopes=["SPOT_WRITE", "WITHDRAW"], ipAllowlist=["203.0.113.7"]
        )
        created = time.monotonic()

        def withdrawal() -> dict[str, Any]:
            request = signed_input(key, "POST", "/api/v4/withdrawals")
            return {**request, "requiredScope": "WITHDRAW"}

        for client in (client_a, client_b):
            answer = await verify(client, cluster.verifier_token, withdrawal())
            assert answer["code"] == "SCOPE_NOT_GRANTED", answer
        for client in (client_a, client_b):
            while (await verify(client, cluster.verifier_token, withdrawal()))["code"] != "VALID":
                assert time.monotonic() - created < COOLING_OFF_SECONDS + 10
                await asyncio.sleep(0.1)
        assert time.monotonic() - created >= COOLING_OFF_SECONDS - 0.5
        # Both sweeps had several chances to apply it again.
        seen_a, seen_b = await asyncio.gather(
            lifecycle_events(ws_a, 1.5), lifecycle_events(ws_b, 1.5)
        )
    expected = [("KEY_CHANGE_PENDING", key.key), ("KEY_UPDATED", key.key)]
    assert seen_a == expected
    assert seen_b == expected
