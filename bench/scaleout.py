"""Verification throughput: embedded default vs PostgreSQL + Redis with 1 and 2 workers.

``python -m bench.scaleout`` runs, in one go and with the same load generator as
``bench.verify`` (keep-alive HTTP/1.1 connections from one asyncio client):

* ``embedded``  ``gql-keys serve``              SQLite + in-process limiter/broker
* ``pg+redis/1`` ``gql-keys serve --workers 1``  PostgreSQL + Redis
* ``pg+redis/2`` ``gql-keys serve --workers 2``  PostgreSQL + Redis, two processes

Each configuration gets a fresh database (and its own Redis key prefix), a user, an HMAC
key and a verifier token. Two loads run against each: ``verifyApiRequest`` (the asyncio
client above) and ``/authz`` (``wrk``, 2 threads, the gateway's signed GET rotating over the
same keys). It prints req/s and latency per configuration and load, the ratios against the
embedded default and of 2 workers against 1, and checks that every answered decision (of
both loads) has its usage-log row. The account-wide rate-limit pool is off
(``GQL_KEYS_ACCOUNT_RATE_LIMIT_REQUESTS=0``): all keys belong to one bench account.
PostgreSQL and Redis are found through ``GQL_KEYS_BENCH_POSTGRES_URL`` /
``GQL_KEYS_BENCH_REDIS_URL`` (defaults: the local ones).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.authz import gateway_headers
from bench.authz import target as authz_target
from bench.verify import (
    Credentials,
    Load,
    RoundResult,
    check_one,
    create_credentials,
    free_port,
    run_round,
    wait_ready,
)
from harness.keys import create_active_key

POSTGRES_URL = os.environ.get(
    "GQL_KEYS_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("GQL_KEYS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Config:
    name: str
    workers: int
    shared: bool  # PostgreSQL + Redis instead of the embedded default


CONFIGS = (
    Config("embedded", 1, shared=False),
    Config("pg+redis/1", 1, shared=True),
    Config("pg+redis/2", 2, shared=True),
)


def _dsn(url: str, database: str | None = None) -> str:
    parts = urlsplit(url)
    path = f"/{database}" if database is not None else parts.path
    return urlunsplit(("postgresql", parts.netloc, path, parts.query, parts.fragment))


def _url(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_dsn(POSTGRES_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _count_postgres_rows(url: str) -> int:
    conn = await asyncpg.connect(_dsn(url))
    try:
        return int(await conn.fetchval("SELECT COUNT(*) FROM usage_logs"))
    finally:
        await conn.close()


def _count_sqlite_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM usage_logs").fetchone()[0])


async def create_keys(env: dict[str, str], count: int) -> list[Credentials]:
    """``bench.verify``'s user, key and token, plus ``count - 1`` more keys of that user.

    With one key every usage-log batch of every worker updates the same rollup rows, so
    the workers' commits queue behind one another's row locks; a gateway in front of many
    partners spreads over many keys.
    """
    from tortoise import Tortoise

    from gql_keys.db import tortoise_config
    from gql_keys.models import ApiKey
    from gql_keys.runtime import build_runtime
    from gql_keys.settings import load_settings

    first = await create_credentials(env)
    creds = [first]
    settings = load_settings(env)
    await Tortoise.init(config=tortoise_config(settings))
    try:
        rt = build_runtime(settings)
        template = await ApiKey.get(key=first.key)
        for _ in range(count - 1):
            row, secret = await create_active_key(
                rt, template.user_id, scopes=["SPOT_WRITE"], rate_limit=(1_000_000, 1)
            )
            key = row.key
            creds.append(Credentials(key, secret, first.token))
        rt.passwords.close()
    finally:
        await Tortoise.close_connections()
    return creds


class ManyKeys(Load):
    """A :class:`Load` that rotates over several keys, one request at a time."""

    def __init__(self, port: int, creds: list[Credentials]) -> None:
        super().__init__(port, creds[0])
        self.loads = [Load(port, c) for c in creds]
        self._next = 0

    def request(self) -> bytes:
        self._next = (self._next + 1) % len(self.loads)
        return self.loads[self._next].request()


@dataclass
class AuthzRound:
    rps: float
    p50: float
    p99: float


def rotating_script(port: int, creds: list[Credentials]) -> str:
    """A wrk script sending the gateway's signed ``/authz`` GET, one key after another."""
    now = int(time.time())
    path = authz_target("authz", port, creds[0], "", now).path
    tables = []
    for c in creds:
        headers = gateway_headers(c, now)
        pairs = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
        tables.append("{" + pairs + "}")
    return (
        f"local path = {json.dumps(path)}\n"
        f"local sets = {{{', '.join(tables)}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #sets + 1\n"
        '  return wrk.format("GET", path, sets[i])\n'
        "end\n"
    )


async def authz_rounds(
    port: int, creds: list[Credentials], args: argparse.Namespace, name: str
) -> tuple[list[AuthzRound], int]:
    """``/authz`` rounds under wrk; the results and how many decisions were answered 2xx."""
    results: list[AuthzRound] = []
    answered = 0
    with tempfile.TemporaryDirectory(prefix="gql-keys-wrk-") as tmp:
        for r in range(args.rounds):
            one = authz_target("authz", port, creds[0], "", int(time.time()))
            await check_one(port, one.raw(), b"")  # one request answered 2xx first
            # A fresh signature each round: a timestamp stays valid for 60 s.
            result = await run_wrk(port, rotating_script(port, creds), args, tmp)
            answered += result[3]
            results.append(AuthzRound(result[0], result[1], result[2]))
            print(
                f"  {name:10s} /authz round {r + 1}: {result[0]:7.0f} req/s  "
                f"p50 {result[1]:6.1f} ms  p99 {result[2]:6.1f} ms  non-2xx {result[4]}",
                flush=True,
            )
    return results, answered


async def run_wrk(
    port: int, script: str, args: argparse.Namespace, tmp: str
) -> tuple[float, float, float, int, int]:
    """rps, p50, p99, answered 2xx, errors of a warm-up then a measured wrk run."""
    from bench.verify import parse_wrk

    path = Path(tmp) / "rotate.lua"
    path.write_text(script)
    answered = 0
    out = None
    for seconds in (args.warmup, args.duration):
        command = ["wrk", "-t2", f"-c{args.connections}", f"-d{seconds:g}s", "--latency"]
        command += ["-s", str(path), f"http://127.0.0.1:{port}/"]
        proc = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"wrk failed: {proc.stderr}")
        out = parse_wrk(proc.stdout)
        answered += out.requests - out.non_2xx
    assert out is not None
    return out.rps, out.p50, out.p99, answered, out.non_2xx + out.socket_errors


async def measure(
    config: Config, args: argparse.Namespace
) -> tuple[list[RoundResult], list[AuthzRound], bool]:
    """Rounds of one configuration; True when every answered decision was logged."""
    database = f"gql_keys_bench_{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="gql-keys-bench-") as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
        env.update(
            GQL_KEYS_DATA_DIR=tmp,
            GQL_KEYS_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
            GQL_KEYS_PORT=str(port),
            GQL_KEYS_HOST="127.0.0.1",
            GQL_KEYS_LOG_LEVEL="WARNING",
            GQL_KEYS_ENV="production",
            GQL_KEYS_ACCOUNT_RATE_LIMIT_REQUESTS="0",
        )
        if config.shared:
            await _admin(f'CREATE DATABASE "{database}"')
            env.update(
                GQL_KEYS_DATABASE_URL=_url(POSTGRES_URL, database),
                GQL_KEYS_REDIS_URL=REDIS_URL,
                GQL_KEYS_REDIS_PREFIX=f"gql-keys-bench-{secrets.token_hex(4)}",
            )
        try:
            creds = await create_keys(env, args.keys)
            command = [
                sys.executable,
                "-c",
                "from gql_keys.cli.main import main; main()",
                "serve",
                "--workers",
                str(config.workers),
            ]
            server = subprocess.Popen(command, env=env)
            results: list[RoundResult] = []
            authz: list[AuthzRound] = []
            answered = 0
            try:
                wait_ready(port, server)
                await asyncio.sleep(1.0 if config.workers > 1 else 0.0)  # all workers up
                load = ManyKeys(port, creds)
                for r in range(args.rounds):
                    result, n = await run_round(
                        config.name, load, port, args.connections, args.warmup, args.duration
                    )
                    answered += n
                    results.append(result)
                    print(
                        f"  {config.name:10s} round {r + 1}: {result.rps:7.0f} req/s  "
                        f"p50 {result.percentile(0.5):6.1f} ms  "
                        f"p99 {result.percentile(0.99):6.1f} ms  errors {result.errors}",
                        flush=True,
                    )
                if args.authz:
                    authz, n = await authz_rounds(port, creds, args, config.name)
                    answered += n
            finally:
                server.terminate()
                server.wait(timeout=60)
            if config.shared:
                logged = await _count_postgres_rows(env["GQL_KEYS_DATABASE_URL"])
            else:
                logged = _count_sqlite_rows(Path(tmp) / "gql-keys.sqlite3")
            print(f"  {config.name:10s} answered {answered}, usage_logs rows {logged}")
            return results, authz, logged >= answered
        finally:
            if config.shared:
                await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


async def bench(args: argparse.Namespace) -> int:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass
    print(
        f"{os.cpu_count()} CPUs; {args.connections} connections, {args.rounds} rounds x "
        f"{args.duration:.0f} s (+{args.warmup:.0f} s warm-up) per configuration, "
        f"{args.keys} keys"
    )
    summary: dict[str, tuple[float, float, float]] = {}
    authz: dict[str, tuple[float, float, float]] = {}
    complete = True
    for config in CONFIGS:
        results, authz_results, logged = await measure(config, args)
        complete = complete and logged
        summary[config.name] = (
            _median([r.rps for r in results]),
            _median([r.percentile(0.5) for r in results]),
            _median([r.percentile(0.99) for r in results]),
        )
        if authz_results:
            authz[config.name] = (
                _median([r.rps for r in authz_results]),
                _median([r.p50 for r in authz_results]),
                _median([r.p99 for r in authz_results]),
            )
    base = summary["embedded"][0]
    print()
    print("| configuration | req/s (median) | p50 ms | p99 ms | vs embedded |")
    print("|---------------|---------------:|-------:|-------:|------------:|")
    for name, (rps, p50, p99) in summary.items():
        print(f"| {name:13s} | {rps:14.0f} | {p50:6.1f} | {p99:6.1f} | {rps / base:11.2f} |")
    scale = summary["pg+redis/2"][0] / summary["pg+redis/1"][0]
    print()
    print(f"verifyApiRequest, 2 workers / 1 worker on PostgreSQL + Redis: {scale:.2f}x")
    if authz:
        base = authz["embedded"][0]
        print()
        print("| /authz (wrk)  | req/s (median) | p50 ms | p99 ms | vs embedded |")
        print("|---------------|---------------:|-------:|-------:|------------:|")
        for name, (rps, p50, p99) in authz.items():
            print(f"| {name:13s} | {rps:14.0f} | {p50:6.1f} | {p99:6.1f} | {rps / base:11.2f} |")
        scale = authz["pg+redis/2"][0] / authz["pg+redis/1"][0]
        print()
        print(f"/authz, 2 workers / 1 worker on PostgreSQL + Redis: {scale:.2f}x")
    print(f"every answered decision has its usage-log row: {'yes' if complete else 'NO'}")
    return 0 if complete else 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds measured per round")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--keys", type=int, default=16, help="API keys the load rotates over")
    parser.add_argument("--no-authz", dest="authz", action="store_false", help="skip /authz")
    sys.exit(asyncio.run(bench(parser.parse_args())))


if __name__ == "__main__":
    main()
