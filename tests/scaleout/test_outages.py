"""PostgreSQL or Redis stopped under load, then started again.

These tests stop the machine's real services (and always start them again in
``finally``): PostgreSQL with ``pg_ctlcluster``, Redis with ``redis-cli shutdown``.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from harness.databases import _asyncpg_dsn
from tests.scaleout.cluster import Cluster, delete_key, new_key, signed_input, verify
from tests.scaleout.test_two_workers import SUBSCRIBE, run_load, subscribe_ws, ws_init

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

OUTAGE_SECONDS = 3.0


def pg_version() -> str:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    return versions[0]


def pg_ctl(action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", pg_version(), "main", action],
        check=False,
        timeout=60,
        capture_output=True,
    )


@pytest.fixture
def postgres_outage() -> Iterator[None]:
    if not Path("/etc/postgresql").is_dir():
        pytest.skip("no local PostgreSQL cluster to stop")
    try:
        yield
    finally:
        pg_ctl("start")
        wait_port(5432)


def redis_start() -> None:
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=False,
        timeout=30,
        capture_output=True,
    )


def redis_stop() -> None:
    command = ["redis-cli", "shutdown", "nosave"]
    subprocess.run(command, check=False, timeout=10, capture_output=True)


@pytest.fixture
def redis_outage() -> Iterator[None]:
    try:
        yield
    finally:
        redis_start()
        wait_port(6379)


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"port {port} did not open")


async def ready(client: httpx.AsyncClient) -> int:
    try:
        return (await client.get("/readyz", timeout=5)).status_code
    except httpx.HTTPError:
        return 0


async def eventually(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.2)


async def test_postgres_stopped_denies_with_a_clear_error_and_recovers(
    cluster: Cluster, postgres_outage: None
) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        key = await new_key(client_a, rateLimit={"requests": 1_000_000, "perSeconds": 86400})
        answers: list[tuple[str, str]] = []
        stop = asyncio.Event()
        load = asyncio.create_task(
            run_load([client_a, client_b], cluster.verifier_token, key, answers, stop)
        )
        try:
            await asyncio.sleep(1.0)
            before = len(answers)
            pg_ctl("stop")
            outage_start = len(answers)
            await asyncio.sleep(OUTAGE_SECONDS)
            assert await ready(client_a) == 503
            assert await ready(client_b) == 503
            during = answers[outage_start:]
        finally:
            pg_ctl("start")
        wait_port(5432)

        async def recovered() -> bool:
            for client in (client_a, client_b):
                answer = await verify(client, cluster.verifier_token, signed_input(key))
                if answer.get("code") != "VALID" or await ready(client) != 200:
                    return False
            return True

        await eventually(recovered)
        stop.set()
        await load

    assert before > 0
    codes = {code for _, code in during}
    assert "SERVICE_UNAVAILABLE" in codes, codes
    assert codes <= {"VALID", "SERVICE_UNAVAILABLE"}, codes
    valid = {path for path, code in answers if code == "VALID"}
    conn = await asyncpg.connect(_asyncpg_dsn(cluster.database_url))
    try:
        rows = await conn.fetch("SELECT path FROM usage_logs WHERE key = $1", key.key)
    finally:
        await conn.close()
    missing = valid - {row["path"] for row in rows}
    assert not missing, f"{len(missing)} VALID answers were never logged"


async def metric(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_redis_stopped_verification_continues_and_everything_resumes(
    cluster: Cluster, redis_outage: None
) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        key = await new_key(client_a)
        doomed = await new_key(client_a)
        for client in (client_a, client_b):  # both workers cache both keys
            for k in (key, doomed):
                assert (await verify(client, cluster.verifier_token, signed_input(k)))["allowed"]
        async with subscribe_ws(a.url, client_a) as ws:
            await ws_init(ws, key.user.token)
            await ws.send_json(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": {"keyIds": [key.id]}},
                }
            )
            await asyncio.sleep(0.3)
            try:
                redis_stop()
                # Verification goes on, on both workers, with local limits and replay.
                for client in (client_a, client_b):
                    answer = await verify(client, cluster.verifier_token, signed_input(key))
                    assert answer["code"] == "VALID", answer
                post = signed_input(key, method="POST")
                assert (await verify(client_b, cluster.verifier_token, post))["code"] == "VALID"
                assert (await verify(client_b, cluster.verifier_token, post))["code"] == "REPLAYED"
                assert await metric(client_b, "gql_keys_redis_available") == 0
                assert await metric(client_b, "gql_keys_limiter_fallbacks_total") > 0
                assert "redis unreachable" in b.log_path.read_text()

                # A key deleted through one worker fails on the other within the cache TTL.
                await delete_key(client_a, doomed)
                deleted_at = time.monotonic()

                async def doomed_fails_on_b() -> bool:
                    answer = await verify(client_b, cluster.verifier_token, signed_input(doomed))
                    return bool(answer["code"] == "KEY_DELETED")

                await eventually(doomed_fails_on_b, timeout=6)
                assert time.monotonic() - deleted_at <= 5.5
            finally:
                redis_start()
            wait_port(6379)

            # The subscription on worker a hears a use on worker b once Redis is back.
            async def subscribed_again() -> bool:
                return await metric(client_a, "gql_keys_broker_connected") == 1

            await eventually(subscribed_again, timeout=15)
            message: dict[str, Any] = {}
            while True:  # drop events a heard during the outage (its own, delivered locally)
                try:
                    async with asyncio.timeout(0.3):
                        await ws.receive_json()
                except TimeoutError:
                    break
            # b may still be serving from its fallback for GQL_KEYS_REDIS_RETRY_SECONDS.
            for attempt in range(20):
                request = signed_input(key, path=f"/back/{attempt}")
                answer = await verify(client_b, cluster.verifier_token, request)
                assert answer["code"] == "VALID"
                try:
                    async with asyncio.timeout(0.5):
                        message = await ws.receive_json()
                    break
                except TimeoutError:
                    continue
            assert message["payload"]["data"]["keyActivity"]["path"].startswith("/back/")
            assert await ready(client_a) == 200
