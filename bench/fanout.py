"""Fan-out benchmark: 1,000 dashboard subscriptions plus a monitor on one worker.

``python -m bench.fanout [--seconds 20] [--rate 100]`` starts ``gql-keys serve`` on the
embedded default (SQLite in a temporary data folder, in-process broker, one worker),
creates 50 users with 20 HMAC keys each, a session per user, a verifier and a monitor
token straight in its database, then opens 1,000 ``graphql-transport-ws`` connections
(50 users x 20 tabs, each tab subscribed to ``keyActivity(keyIds: [its key])``) and one
monitor connection subscribed to everything. A gateway then drives ``--rate``
``verifyApiRequest`` calls per second on random keys over keep-alive HTTP.

Each event's latency is client receipt time minus its ``occurredAt`` (same host, same
clock). Printed: events expected/delivered per audience, p50/p99/max latency, and the
server's peak RSS (sampled from /proc). Goal: all delivered, p99 <= 100 ms, RSS <= 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.verify import free_port
from gql_keys.security.signing import hmac_sha512_hex, signing_payload
from harness.accounts import LOCAL_CLIENT
from harness.keys import create_active_key

USERS = 50
TABS = 20
EMPTY_SHA512 = hashlib.sha512(b"").hexdigest()
PATH = "/api/v4/spot/orders"
QUERY = "currency_pair=BTC_USDT"
VERIFY = "mutation V($i: VerifyApiRequestInput!) { verifyApiRequest(input: $i) { allowed code } }"
ACTIVITY = "subscription ($k: [ID!]) { keyActivity(keyIds: $k) { id kind occurredAt key code } }"


@dataclass
class Seeded:
    keys: list[tuple[str, str, str, int]]  # (public key, secret, session token, key pk)
    verifier: str
    monitor: str


@dataclass
class Audience:
    latencies: list[float] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


async def seed(env: dict[str, str]) -> Seeded:
    from tortoise import Tortoise

    from gql_keys.db import migrate, tortoise_config
    from gql_keys.models import User
    from gql_keys.principals import ServiceRole
    from gql_keys.runtime import build_runtime
    from gql_keys.services import service_tokens
    from gql_keys.services.sessions import start_session
    from gql_keys.settings import load_settings

    settings = load_settings(env)
    await migrate(settings)
    await Tortoise.init(config=tortoise_config(settings))
    keys: list[tuple[str, str, str, int]] = []
    try:
        rt = build_runtime(settings)
        for u in range(USERS):
            user = await User.create(email=f"fan{u}@example.com", password_hash="unused")
            session = await start_session(rt, user.id, LOCAL_CLIENT)
            for _ in range(TABS):
                row, secret = await create_active_key(rt, user.id, scopes=["SPOT_READ"])
                key = row.key
                keys.append((key, secret, session, row.id))
        verifier = await service_tokens.create("fan-gateway", ServiceRole.VERIFIER)
        monitor = await service_tokens.create("fan-monitor", ServiceRole.MONITOR)
        rt.passwords.close()
    finally:
        await Tortoise.close_connections()
    return Seeded(keys, verifier, monitor)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def open_subscription(
    url: str, token: str, key_ids: list[str] | None, audience: Audience, ready: asyncio.Event
) -> tuple[ClientConnection, asyncio.Task[None]]:
    protocol = Subprotocol("graphql-transport-ws")
    ws = await connect(url, subprotocols=[protocol], ping_interval=None, max_queue=None)
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await ws.recv())
    assert ack["type"] == "connection_ack", ack
    variables = {"k": key_ids} if key_ids is not None else {}
    await ws.send(
        json.dumps(
            {"id": "1", "type": "subscribe", "payload": {"query": ACTIVITY, "variables": variables}}
        )
    )

    async def reader() -> None:
        async for raw in ws:
            received = time.time()
            message = json.loads(raw)
            if message.get("type") != "next":
                continue
            event = message["payload"]["data"]["keyActivity"]
            at = datetime.fromisoformat(event["occurredAt"]).timestamp()
            audience.latencies.append((received - at) * 1000)
            audience.ids.add(event["id"])

    return ws, asyncio.create_task(reader())


async def gateway(
    base: str, seeded: Seeded, rate: float, seconds: float, sent: list[str], rtt: list[float]
) -> int:
    """Send ``rate`` verifications per second; returns how many were answered allowed."""
    allowed = 0
    interval = 1.0 / rate
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        headers = {"Authorization": f"Bearer {seeded.verifier}"}
        tasks: list[asyncio.Task[None]] = []

        async def one(key: str, secret: str) -> None:
            nonlocal allowed
            ts = str(int(time.time()))
            payload = signing_payload("GET", PATH, QUERY, EMPTY_SHA512, ts)
            variables = {
                "i": {
                    "key": key,
                    "signature": hmac_sha512_hex(secret, payload),
                    "timestamp": ts,
                    "method": "GET",
                    "path": PATH,
                    "query": QUERY,
                    "bodySha512": EMPTY_SHA512,
                    "clientIp": "203.0.113.7",
                    "requiredScope": "SPOT_READ",
                }
            }
            t0 = time.perf_counter()
            response = await client.post(
                "/graphql", json={"query": VERIFY, "variables": variables}, headers=headers
            )
            rtt.append((time.perf_counter() - t0) * 1000)
            if response.json()["data"]["verifyApiRequest"]["allowed"]:
                allowed += 1
            sent.append(key)

        start = time.perf_counter()
        n = int(rate * seconds)
        rng = random.Random(1)
        for i in range(n):
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            key, secret, _, _ = rng.choice(seeded.keys)
            tasks.append(asyncio.create_task(one(key, secret)))
        await asyncio.gather(*tasks)
    return allowed


def _gateway_process(
    base: str,
    seeded: Seeded,
    rate: float,
    seconds: float,
    results: multiprocessing.Queue[tuple[int, int, list[float]]],
) -> None:
    sent: list[str] = []
    rtt: list[float] = []
    allowed = asyncio.run(gateway(base, seeded, rate, seconds, sent, rtt))
    results.put((allowed, len(sent), rtt))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> int:
    from gql_keys.global_ids import encode_global_id

    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        env = {
            **os.environ,
            "GQL_KEYS_DATA_DIR": data,
            "GQL_KEYS_DATABASE_URL": "",
            "GQL_KEYS_REDIS_URL": "",
            "GQL_KEYS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "GQL_KEYS_LOG_LEVEL": "WARNING",
        }
        seeded = await seed(env)
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gql-keys")), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient() as probe:
                for _ in range(200):
                    try:
                        if (await probe.get(f"{base}/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.05)
            url = f"ws://127.0.0.1:{port}/graphql"
            tabs, monitor = Audience(), Audience()
            ready = asyncio.Event()
            sockets: list[tuple[ClientConnection, asyncio.Task[None]]] = []
            started = time.perf_counter()
            for batch in range(0, len(seeded.keys) if args.subscribe else 0, 50):
                opened = await asyncio.gather(
                    *(
                        open_subscription(
                            url, session, [encode_global_id("ApiKey", pk)], tabs, ready
                        )
                        for _, _, session, pk in seeded.keys[batch : batch + 50]
                    )
                )
                sockets.extend(opened)
            sockets.append(await open_subscription(url, seeded.monitor, None, monitor, ready))
            opened_in = time.perf_counter() - started
            await asyncio.sleep(1.0)  # let every subscription reach the hub
            idle_rss = rss_mb(server.pid)
            peak = idle_rss
            # The gateway runs in its own process so that it does not compete with
            # the 1,001 WebSocket readers for this process's event loop.
            mp = multiprocessing.get_context("spawn")
            results: multiprocessing.Queue[tuple[int, int, list[float]]] = mp.Queue()
            driver = mp.Process(
                target=_gateway_process, args=(base, seeded, args.rate, args.seconds, results)
            )
            driver.start()
            while driver.is_alive() and results.empty():
                peak = max(peak, rss_mb(server.pid))
                await asyncio.sleep(0.2)
            allowed, total, rtt = await asyncio.to_thread(results.get)
            driver.join()
            await asyncio.sleep(1.0)  # the last events in flight
            peak = max(peak, rss_mb(server.pid))
            for ws, task in sockets:
                task.cancel()
                await ws.close()
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(f"subscriptions: {len(sockets) - 1} tabs + 1 monitor, opened in {opened_in:.1f} s")
    print(f"verifications: {total} at {args.rate:g}/s for {args.seconds:g} s ({allowed} allowed)")
    header = f"{'audience':10} {'expected':>9} {'delivered':>9}"
    print(f"\n{header} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, audience in (("tabs", tabs), ("monitor", monitor)):
        lat = audience.latencies
        print(
            f"{name:10} {total:9d} {len(audience.ids):9d} {pct(lat, 0.5):8.1f} "
            f"{pct(lat, 0.99):8.1f} {max(lat, default=float('nan')):8.1f}"
        )
    print(
        f"verifyApiRequest round trip (decision + usage-row commit): "
        f"p50 {pct(rtt, 0.5):.1f} ms, p99 {pct(rtt, 0.99):.1f} ms"
    )
    print(f"\nserver RSS: {idle_rss:.0f} MB with sockets open, {peak:.0f} MB peak")
    ok = (
        len(tabs.ids) == total
        and len(monitor.ids) == total
        and pct(tabs.latencies + monitor.latencies, 0.99) <= 100
        and peak <= 300
    )
    print("goal met" if ok else "goal NOT met")
    return 0 if ok else 1


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=100.0, help="verifications per second")
    parser.add_argument(
        "--no-tabs", dest="subscribe", action="store_false", help="only the monitor (baseline)"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
