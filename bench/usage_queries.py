"""Benchmark ``usageLogs`` pages and a 30-day HOUR ``usage`` query over 1,000,000 rows.

``python -m bench.usage_queries [--rows N] [--postgres URL]`` creates a fresh PostgreSQL
database (dropped afterwards), migrates it, creates 50 users with 20 keys each, then
bulk-loads N usage-log rows (spread over 30 days, 2 % from unknown keys) with ``COPY``
together with their HOUR and DAY rollups, and runs ``ANALYZE``. It then drives the real
ASGI app in-process (httpx ``ASGITransport``: parsing, validation, resolvers, SQL) and
prints the p50/p99 of each query plus the PostgreSQL plans (``EXPLAIN ANALYZE``) of the
page queries. Goal: p50 <= 20 ms for a page and for the usage query.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import secrets
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from gql_keys.app import create_app
from gql_keys.db import migrate
from gql_keys.global_ids import encode_global_id
from gql_keys.models import ApiKey, User
from gql_keys.principals import ServiceRole
from gql_keys.repositories.usage_writes import LOG_COLUMNS
from gql_keys.services import service_tokens
from gql_keys.services.sessions import start_session
from gql_keys.settings import Settings
from harness.accounts import LOCAL_CLIENT

USERS = 50
KEYS_PER_USER = 20
DAYS = 30
CODES_DENIED = ("INVALID_SIGNATURE", "RATE_LIMITED", "IP_NOT_ALLOWED", "TIMESTAMP_OUT_OF_WINDOW")

PAGE = """
query ($filter: UsageLogFilter, $after: String) {
  usageLogs(filter: $filter, first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id key occurredAt allowed code clientIp method path apiKey { id label } }
  }
}
"""
PAGE_NO_COUNT = PAGE.replace("totalCount ", "")
USAGE = """
query ($id: ID!, $since: DateTime!) {
  apiKey(id: $id) { usage(since: $since, bucket: HOUR) { start allowed denied } }
}
"""


def asyncpg_dsn(url: str, database: str | None = None) -> str:
    parts = urlsplit(url)
    path = f"/{database}" if database else parts.path
    return urlunsplit(("postgresql", parts.netloc, path, parts.query, ""))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


async def seed(url: str, rows: int, now: datetime) -> list[list[int]]:
    """Users, keys (via the ORM), then logs and rollups by COPY; returns key ids per user."""
    from tortoise import Tortoise

    from gql_keys.db import tortoise_config

    settings = Settings(data_dir=Path("/nonexistent"), database_url=url)
    await Tortoise.init(config=tortoise_config(settings))
    try:
        keys_of: list[list[int]] = []
        for u in range(USERS):
            user = await User.create(email=f"bench{u}@example.com", password_hash="unused")
            created = [
                ApiKey(
                    user_id=user.id,
                    key=secrets.token_hex(16),
                    label=f"key {k}",
                    algorithm="HMAC_SHA512",
                    scopes=["SPOT_READ"],
                    ip_allowlist=[],
                    state="active",
                    created_at=now - timedelta(days=DAYS + 1),
                )
                for k in range(KEYS_PER_USER)
            ]
            await ApiKey.bulk_create(created)
            ids = await ApiKey.filter(user_id=user.id).order_by("id").values_list("id", flat=True)
            keys_of.append([int(pk) for pk in ids])  # type: ignore[call-overload]
        key_text: dict[int, str] = dict(await ApiKey.all().values_list("id", "key"))
    finally:
        await Tortoise.close_connections()

    all_keys = [pk for ids in keys_of for pk in ids]
    rng = random.Random(7)
    start = now - timedelta(days=DAYS)
    span = DAYS * 86400
    # Sorted times so ids grow with occurred_at, as the writer produces them.
    offsets = sorted(rng.random() * span for _ in range(rows))
    hours: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0])
    days: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0])
    records: list[tuple[Any, ...]] = []
    for offset in offsets:
        at = start + timedelta(seconds=offset)
        allowed = rng.random() < 0.9
        code = "VALID" if allowed else rng.choice(CODES_DENIED)
        if rng.random() < 0.02:
            pk, key = None, "unknown-" + secrets.token_hex(4)
            code, allowed = "KEY_NOT_FOUND", False
        else:
            pk = rng.choice(all_keys)
            key = key_text[pk]
            hour = at.replace(minute=0, second=0, microsecond=0)
            hours[(pk, hour)][0 if allowed else 1] += 1
            days[(pk, hour.replace(hour=0))][0 if allowed else 1] += 1
        ip = f"198.51.100.{rng.randrange(1, 255)}"
        records.append(
            (pk, key, at, allowed, code, ip, "GET", "/api/v4/spot/orders", "SPOT_READ", False)
        )

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.copy_records_to_table(
            "usage_logs",
            records=records,
            columns=list(LOG_COLUMNS),
        )
        rollups = [(pk, "HOUR", at, a, d) for (pk, at), (a, d) in hours.items()]
        rollups += [(pk, "DAY", at, a, d) for (pk, at), (a, d) in days.items()]
        await conn.copy_records_to_table(
            "usage_rollups",
            records=rollups,
            columns=["api_key_id", "bucket", "bucket_start", "allowed", "denied"],
        )
        await conn.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps
    finally:
        await conn.close()
    return keys_of


async def service_calls(user_id: int, key_id: int, now: datetime) -> list[tuple[str, Any]]:
    from gql_keys.services import usage as svc

    user = svc.LogScope(user_id=user_id)
    every = svc.LogScope()
    none = svc.LogFilter()
    since = now - timedelta(days=DAYS)

    async def user_page() -> None:
        await svc.page_logs(user, none, 100, None)
        await svc.count_logs(user, none)

    async def monitor_page() -> None:
        await svc.page_logs(every, none, 100, None)

    async def usage() -> None:
        await svc.usage_buckets([key_id], since, None, svc.BucketSize.HOUR)

    return [
        ("svc: user page + count", user_page),
        ("svc: monitor page (no count)", monitor_page),
        ("svc: 30-day HOUR buckets", usage),
    ]


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def timed(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str, n: int
) -> tuple[list[float], dict[str, Any]]:
    samples: list[float] = []
    body: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):  # warm caches (parser, validation, plan cache)
        await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    for _ in range(n):
        started = time.perf_counter()
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        samples.append((time.perf_counter() - started) * 1000)
        body = response.json()
        assert "errors" not in body, body
    return samples, body


async def explain(url: str, user_id: int, key_id: int) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        plans = {
            "user page": (
                "SELECT * FROM usage_logs WHERE api_key_id IN "
                "(SELECT id FROM api_keys WHERE user_id = $1) "
                "ORDER BY occurred_at DESC, id DESC LIMIT 101",
                [user_id],
            ),
            "user count": (
                "SELECT COUNT(*) FROM usage_logs WHERE api_key_id IN "
                "(SELECT id FROM api_keys WHERE user_id = $1)",
                [user_id],
            ),
            "key page": (
                "SELECT * FROM usage_logs WHERE api_key_id = $1 "
                "ORDER BY occurred_at DESC, id DESC LIMIT 101",
                [key_id],
            ),
            "monitor page": (
                "SELECT * FROM usage_logs ORDER BY occurred_at DESC, id DESC LIMIT 101",
                [],
            ),
        }
        for name, (sql, args) in plans.items():
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql, *args)
            print(f"\n-- EXPLAIN ANALYZE {name}")
            for row in rows:
                print("   ", row[0])
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    base = args.postgres
    name = args.reuse or f"gql_keys_bench_{secrets.token_hex(3)}"
    url = with_database(base, name)
    now = datetime.now(UTC).replace(microsecond=0)
    if not args.reuse:
        admin = await asyncpg.connect(asyncpg_dsn(base))
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
    try:
        if args.reuse:
            keys_of = await existing_keys(url)
            newest = await _newest(url)
            now = newest or now
        else:
            await migrate(Settings(data_dir=Path("/nonexistent"), database_url=url))
            started = time.perf_counter()
            keys_of = await seed(url, args.rows, now)
            elapsed = time.perf_counter() - started
            print(f"seeded {args.rows:,} usage rows + rollups in {elapsed:.1f} s")
        with tempfile.TemporaryDirectory() as data:
            settings = Settings(
                data_dir=Path(data),
                database_url=url,
                master_key=base64.b64encode(os.urandom(32)).decode(),
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                user_id = (await User.get(email="bench0@example.com")).id
                session = await start_session(app.state.rt, user_id, LOCAL_CLIENT)
                monitor = await service_tokens.create(
                    f"bench-monitor-{secrets.token_hex(3)}", ServiceRole.MONITOR
                )
                transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                    key_id = keys_of[0][0]
                    global_key = encode_global_id("ApiKey", key_id)
                    since = (now - timedelta(days=DAYS)).isoformat()
                    results: list[tuple[str, list[float], str]] = []
                    s, body = await timed(c, PAGE, {}, session, args.n)
                    total = body["data"]["usageLogs"]["totalCount"]
                    results.append(("usageLogs page, user (20 keys)", s, f"total {total:,}"))
                    cursor = body["data"]["usageLogs"]["pageInfo"]["endCursor"]
                    s, _ = await timed(c, PAGE, {"after": cursor}, session, args.n)
                    results.append(("usageLogs page 2, user", s, "after cursor"))
                    s, body = await timed(
                        c, PAGE, {"filter": {"keyId": global_key}}, session, args.n
                    )
                    total = body["data"]["usageLogs"]["totalCount"]
                    results.append(("usageLogs page, user, keyId", s, f"total {total:,}"))
                    flt = {"allowed": False, "codes": ["RATE_LIMITED"]}
                    s, body = await timed(c, PAGE, {"filter": flt}, session, args.n)
                    total = body["data"]["usageLogs"]["totalCount"]
                    results.append(("usageLogs page, user, denied+code", s, f"total {total:,}"))
                    s, body = await timed(c, PAGE, {}, monitor, args.n)
                    total = body["data"]["usageLogs"]["totalCount"]
                    results.append(("usageLogs page, monitor (all)", s, f"total {total:,}"))
                    s, _ = await timed(c, PAGE_NO_COUNT, {}, monitor, args.n)
                    results.append(("usageLogs page, monitor, no totalCount", s, ""))
                    s, _ = await timed(c, PAGE_NO_COUNT, {}, session, args.n)
                    results.append(("usageLogs page, user, no totalCount", s, ""))
                    s, _ = await timed(c, "{ __typename }", {}, session, args.n)
                    results.append(("floor: { __typename } (no SQL)", s, "HTTP+GraphQL overhead"))
                    for label, call in await service_calls(user_id, key_id, now):
                        samples = []
                        for _ in range(args.n):
                            t0 = time.perf_counter()
                            await call()
                            samples.append((time.perf_counter() - t0) * 1000)
                        results.append((label, samples, "service layer, SQL only"))
                    s, body = await timed(
                        c, USAGE, {"id": global_key, "since": since}, session, args.n
                    )
                    buckets = len(body["data"]["apiKey"]["usage"])
                    results.append(("usage 30 days HOUR, one key", s, f"{buckets} buckets"))
        print(f"\n{'query':40} {'p50 ms':>8} {'p99 ms':>8}  note")
        for label, samples, note in results:
            print(f"{label:40} {statistics.median(samples):8.1f} {pct(samples, 0.99):8.1f}  {note}")
        if args.explain:
            await explain(url, user_id, key_id)
    finally:
        if args.keep or args.reuse:
            print(f"\nkept database {name} (reuse with --reuse {name})")
        else:
            admin = await asyncpg.connect(asyncpg_dsn(base))
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


async def existing_keys(url: str) -> list[list[int]]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch("SELECT user_id, id FROM api_keys ORDER BY user_id, id")
    finally:
        await conn.close()
    grouped: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        grouped[row["user_id"]].append(row["id"])
    return [grouped[u] for u in sorted(grouped)]


async def _newest(url: str) -> datetime | None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        value: datetime | None = await conn.fetchval("SELECT max(occurred_at) FROM usage_logs")
        return value
    finally:
        await conn.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("-n", type=int, default=50, help="timed requests per query")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "GQL_KEYS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--no-explain", dest="explain", action="store_false")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--reuse", metavar="DBNAME", help="reuse a database kept earlier")
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
