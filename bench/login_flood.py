"""Verification latency with and without a flood of wrong logins.

    python -m bench.login_flood [--requests 200] [--rounds 3] [--flooders 50]
                                [--database-url URL] [--hash-concurrency N]

Starts a real ``gql-keys serve`` (one worker, production argon2 costs), then measures
``verifyApiRequest`` round trips alone and while another process keeps ``--flooders``
wrong logins in flight (unique e-mails, throttles raised, so every one is hashed).
The phases alternate ``--rounds`` times so background load hits both alike.
Password hashing runs in a bounded pool (``GQL_KEYS_PASSWORD_HASH_CONCURRENCY``), so
the flood queues for the pool instead of starving the event loop.
Goal: p99 under flood within 2x of p99 alone.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.verify import free_port
from gql_keys.app import create_app, runtime_of
from gql_keys.clock import Clock
from gql_keys.db import migrate
from gql_keys.settings import Settings, load_settings
from harness.keys import VERIFY, create_active_key, create_user, verifier_token, verify_input

LOGIN = "mutation ($i: LoginInput!) { login(input: $i) { token userErrors { code } } }"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def seed(settings: Settings) -> tuple[str, str, str]:
    """A user with an active HMAC key, and a verifier token: (key, secret, token)."""
    await migrate(settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        user = await create_user()
        row, secret = await create_active_key(runtime_of(app), user.id, rate_limit=(1_000_000, 1))
        token = await verifier_token(name=f"bench-{secrets.token_hex(3)}")
    return row.key, secret, token


async def verify_latencies(url: str, key: str, secret: str, token: str, count: int) -> list[float]:
    clock = Clock()
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for i in range(count):
            variables = {
                "input": verify_input(
                    key, secret, now=clock.time(), query=f"currency_pair=BTC_USDT&n={i}"
                )
            }
            start = time.perf_counter()
            response = await client.post(
                "/graphql",
                json={"query": VERIFY, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
            latencies.append(time.perf_counter() - start)
            body = response.json()
            assert body["data"]["verifyApiRequest"]["allowed"], body
    return latencies


def flood_process(url: str, flooders: int, stop: Any, done: Any) -> None:
    # The attackers' CPU is not ours: on a small machine the flooding client would
    # otherwise compete with the server for the same cores and skew the figure.
    os.nice(19)

    async def one(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            email = f"nobody-{secrets.token_hex(6)}@example.com"
            password = "wrong password " + secrets.token_hex(4)
            await client.post(
                "/graphql",
                json={"query": LOGIN, "variables": {"i": {"email": email, "password": password}}},
            )
            with done.get_lock():
                done.value += 1

    async def main() -> None:
        limits = httpx.Limits(max_connections=flooders)
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
            await asyncio.gather(*(one(client) for _ in range(flooders)))

    asyncio.run(main())


def run(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="gql-keys-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "GQL_KEYS_DATA_DIR": str(data_dir),
        "GQL_KEYS_DATABASE_URL": args.database_url,
        "GQL_KEYS_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "GQL_KEYS_LOGIN_MAX_FAILURES_PER_ADDRESS": str(10**9),
        "GQL_KEYS_LOGIN_MAX_FAILURES_PER_ACCOUNT": str(10**9),
        "GQL_KEYS_LOGIN_MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS": str(10**9),
        "GQL_KEYS_PASSWORD_HASH_CONCURRENCY": str(args.hash_concurrency),
        "GQL_KEYS_LOG_LEVEL": "WARNING",
        "GQL_KEYS_PORT": str(port),
    }
    settings = load_settings(env)
    key, secret, token = asyncio.run(seed(settings))
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gql-keys"), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        asyncio.run(verify_latencies(url, key, secret, token, 20))  # warm up
        alone: list[float] = []
        flooded: list[float] = []
        done = multiprocessing.Value("i", 0)
        elapsed = 0.0
        for _ in range(args.rounds):
            alone += asyncio.run(verify_latencies(url, key, secret, token, args.requests))
            stop = multiprocessing.Event()
            flood = multiprocessing.Process(
                target=flood_process, args=(url, args.flooders, stop, done)
            )
            flood.start()
            time.sleep(1.0)  # let the flood fill the hashing pool
            started = time.perf_counter()
            flooded += asyncio.run(verify_latencies(url, key, secret, token, args.requests))
            elapsed += time.perf_counter() - started
            stop.set()
            flood.join(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=30)

    def line(name: str, values: list[float]) -> str:
        return (
            f"{name:<22} p50 {statistics.median(values) * 1000:7.2f} ms   "
            f"p99 {percentile(values, 0.99) * 1000:7.2f} ms"
        )

    print(
        f"verifyApiRequest x{args.requests * args.rounds} per phase, "
        f"{args.flooders} concurrent wrong logins, hash pool {args.hash_concurrency}, "
        f"{'sqlite' if settings.is_sqlite else 'postgres'}, {os.cpu_count()} cpus"
    )
    print(line("alone", alone))
    print(line("during login flood", flooded))
    print(f"wrong logins answered: {done.value} (about {done.value / elapsed:.1f}/s)")
    ratio = percentile(flooded, 0.99) / percentile(alone, 0.99)
    print(f"p99 ratio: {ratio:.2f}x (goal <= 2x): {'OK' if ratio <= 2 else 'OVER'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flooders", type=int, default=50)
    parser.add_argument(
        "--hash-concurrency", type=int, default=Settings().password_hash_concurrency
    )
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
