"""Two real ``gql-keys serve`` processes on one PostgreSQL database and one Redis behave
as one service: events, deletes, rate limits and replays cross workers."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws

from harness.databases import _asyncpg_dsn
from tests.scaleout.cluster import (
    Cluster,
    delete_key,
    holds_before_cache_expiry,
    new_key,
    signed_input,
    verify,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SUBSCRIBE = """
subscription ($keyIds: [ID!]) {
  keyActivity(keyIds: $keyIds) { kind key code path }
}
"""


def subscribe_ws(
    url: str, client: httpx.AsyncClient
) -> AbstractAsyncContextManager[AsyncWebSocketSession]:
    return aconnect_ws(f"{url}/graphql", client, subprotocols=["graphql-transport-ws"])


async def ws_init(ws: AsyncWebSocketSession, token: str) -> None:
    await ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    assert (await ws.receive_json())["type"] == "connection_ack"


async def drain(ws: AsyncWebSocketSession) -> None:
    """Read messages until the server closes the socket (or 30 s pass)."""
    async with asyncio.timeout(30):
        while True:
            await ws.receive_json()


async def test_subscriber_on_one_worker_receives_use_on_the_other(cluster: Cluster) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        key = await new_key(client_b)
        async with subscribe_ws(a.url, client_a) as ws:
            await ws_init(ws, key.user.token)
            await ws.send_json(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": {"keyIds": [key.id]}},
                }
            )
            # Use the key on b until a hears it: a busy worker a may register the
            # subscription only after the first uses went by.
            sent: list[str] = []
            message: dict[str, Any] = {}
            for attempt in range(20):
                sent.append(f"/x/{attempt}")
                request = signed_input(key, path=sent[-1])
                assert (await verify(client_b, cluster.verifier_token, request))["code"] == "VALID"
                try:
                    async with asyncio.timeout(1):
                        message = await ws.receive_json()
                    break
                except TimeoutError:
                    continue
            assert message.get("type") == "next", message
            event = message["payload"]["data"]["keyActivity"]
            assert event["path"] in sent, event
            assert event == {
                "kind": "KEY_USED",
                "key": key.key,
                "code": "VALID",
                "path": event["path"],
            }


async def test_key_deleted_on_one_worker_fails_on_the_other_at_once(cluster: Cluster) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        key = await new_key(client_a)
        cached_at = time.monotonic()
        # Both workers have the key in their caches now.
        for client in (client_a, client_b):
            assert (await verify(client, cluster.verifier_token, signed_input(key)))["allowed"]
        await delete_key(client_a, key)

        async def deleted_on_b() -> bool:
            answer = await verify(client_b, cluster.verifier_token, signed_input(key))
            assert answer.get("code") in ("VALID", "KEY_DELETED"), answer
            return answer["allowed"] is False and answer["code"] == "KEY_DELETED"

        await holds_before_cache_expiry(deleted_on_b, cached_at)


async def test_one_rate_limit_holds_across_both_workers(cluster: Cluster) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        key = await new_key(client_a, rateLimit={"requests": 10, "perSeconds": 86400})
        answers = await asyncio.gather(
            *(
                verify(client, cluster.verifier_token, signed_input(key, path=f"/r/{i}"))
                for i, client in enumerate([client_a, client_b] * 8)
            )
        )
        codes = [answer["code"] for answer in answers]
        assert codes.count("VALID") == 10, codes
        assert codes.count("RATE_LIMITED") == 6, codes


async def test_replay_accepted_on_one_worker_is_caught_on_the_other(cluster: Cluster) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        key = await new_key(client_a)
        request = signed_input(key, method="POST", path="/api/v4/spot/orders")
        assert (await verify(client_a, cluster.verifier_token, request))["code"] == "VALID"
        assert (await verify(client_b, cluster.verifier_token, request))["code"] == "REPLAYED"
        assert (await verify(client_a, cluster.verifier_token, request))["code"] == "REPLAYED"


def answer_code(answer: dict[str, Any]) -> str:
    """The verification code, or the top-level error code when there was no decision."""
    if "code" in answer:
        return str(answer["code"])
    errors = answer.get("errors") or [{}]
    return str(errors[0].get("extensions", {}).get("code") or f"HTTP_{answer.get('status')}")


async def run_load(
    clients: list[httpx.AsyncClient],
    token: str,
    key: Any,
    answers: list[tuple[str, str]],
    stop: asyncio.Event,
    concurrency: int = 8,
) -> None:
    """Verify unique requests until ``stop``; record (path, code) of every answer received."""
    counter = iter(range(10**9))

    async def one_client(n: int) -> None:
        client = clients[n % len(clients)]
        while not stop.is_set():
            path = f"/load/{next(counter)}"
            try:
                answer = await verify(client, token, signed_input(key, path=path))
            except (httpx.HTTPError, json.JSONDecodeError):
                await asyncio.sleep(0.01)
                continue
            answers.append((path, answer_code(answer)))

    await asyncio.gather(*(one_client(n) for n in range(concurrency)))


async def until_valid(
    answers: list[tuple[str, str]], count: int, load: asyncio.Task[None], seconds: float = 30
) -> None:
    """Wait until ``count`` VALID answers have arrived, so a signal lands on a worker that has
    proven it answers, however slow the machine is."""
    deadline = time.monotonic() + seconds
    while sum(code == "VALID" for _, code in answers) < count:
        assert not load.done(), "the load stopped early"
        assert time.monotonic() < deadline, f"only {len(answers)} answers in {seconds} s"
        await asyncio.sleep(0.02)


async def test_every_valid_answer_has_its_row_when_a_worker_is_killed(
    cluster: Cluster, tmp_path: Any
) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        key = await new_key(client_b, rateLimit={"requests": 1_000_000, "perSeconds": 86400})
        answers: list[tuple[str, str]] = []
        stop = asyncio.Event()
        load = asyncio.create_task(
            run_load([client_a, client_b], cluster.verifier_token, key, answers, stop)
        )
        await until_valid(answers, 100, load)
        victim = cluster.servers.pop()  # b: killed, replaced below for later tests
        victim.signal(signal.SIGKILL)
        await asyncio.sleep(1.0)
        stop.set()
        await load
        assert victim.process is not None
        assert victim.process.wait(10) == -signal.SIGKILL

    valid = {path for path, code in answers if code == "VALID"}
    assert len(valid) >= 100, f"too little load to prove anything: {len(answers)} answers"
    conn = await asyncpg.connect(_asyncpg_dsn(cluster.database_url))
    try:
        rows = await conn.fetch(
            "SELECT path FROM usage_logs WHERE key = $1 AND code = 'VALID'", key.key
        )
    finally:
        await conn.close()
    logged = {row["path"] for row in rows}
    missing = valid - logged
    assert not missing, f"{len(missing)} VALID answers without a usage-log row"
    cluster.add_server(tmp_path)


async def test_sigterm_drains_in_flight_requests_closes_websockets_and_exits(
    cluster: Cluster, tmp_path: Any
) -> None:
    spare = cluster.add_server(tmp_path, GQL_KEYS_LOG_LEVEL="INFO")
    cluster.servers.remove(spare)
    async with spare.client() as client:
        key = await new_key(client, rateLimit={"requests": 1_000_000, "perSeconds": 86400})
        answers: list[tuple[str, str]] = []
        stop = asyncio.Event()
        async with subscribe_ws(spare.url, client) as ws:
            await ws_init(ws, key.user.token)
            await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
            load = asyncio.create_task(
                run_load([client], cluster.verifier_token, key, answers, stop)
            )
            await until_valid(answers, 50, load)
            spare.signal(signal.SIGTERM)
            with pytest.raises(WebSocketDisconnect) as closed:
                await drain(ws)
            assert closed.value.code == 1012  # service restart: reconnect elsewhere
        assert spare.process is not None
        started = time.monotonic()
        while spare.process.poll() is None and time.monotonic() - started < 30:
            await asyncio.sleep(0.05)
        stop.set()
        await load
    # uvicorn re-raises the signal once its graceful shutdown has completed.
    assert spare.process.returncode in (0, -signal.SIGTERM)
    log = spare.log_path.read_text()
    assert "Waiting for application shutdown" in log
    assert "Application shutdown complete" in log
    valid = {path for path, code in answers if code == "VALID"}
    conn = await asyncpg.connect(_asyncpg_dsn(cluster.database_url))
    try:
        rows = await conn.fetch("SELECT path FROM usage_logs WHERE key = $1", key.key)
    finally:
        await conn.close()
    assert len(valid) >= 50
    assert valid <= {row["path"] for row in rows}
    assert {code for _, code in answers} <= {"VALID", "ERROR"}
