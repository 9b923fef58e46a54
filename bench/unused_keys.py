"""Benchmark ``apiKeys(unusedForDays: 30)`` over 100,000 keys on SQLite and PostgreSQL.

``python -m bench.unused_keys [--keys N] [--postgres URL] [--n RUNS]`` builds a fresh
database per backend (a temporary SQLite file; a PostgreSQL database dropped
afterwards), migrates it and loads N keys: half spread over users holding 20 keys each,
half held by one account that has 20 live keys and deleted all the others over the
years (deleted keys stay, soft-deleted, for the usage history). Last uses are spread
over 120 days (10 % never used). It then drives the real ASGI app in-process (httpx
``ASGITransport``) and prints p50/p99 of the first page with ``totalCount`` for a
20-key user and for that account, and the query plan of the page query.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from tortoise import Tortoise
from tortoise.connection import connections

from bench.usage_queries import asyncpg_dsn, pct, timed, with_database
from gql_keys.app import create_app
from gql_keys.db import migrate, tortoise_config
from gql_keys.models import ApiKey, User
from gql_keys.services.sessions import start_session
from gql_keys.settings import Settings
from harness.accounts import LOCAL_CLIENT

KEYS_PER_USER = 20
DAYS = 30

QUERY = """
query ($days: Int!) {
  apiKeys(unusedForDays: $days, first: 20) { totalCount nodes { id lastUsedAt } }
}
"""


def _key(rng: random.Random, user_id: int, now: datetime, deleted: bool = False) -> ApiKey:
    created = now - timedelta(days=rng.uniform(1, 180))
    used: datetime | None = None
    if rng.random() >= 0.1:
        used = max(created, now - timedelta(days=rng.uniform(0, 120)))
    return ApiKey(
        user_id=user_id,
        key="gqk_" + secrets.token_hex(16),
        label="bench",
        algorithm="HMAC_SHA512",
        scopes=["SPOT_READ"],
        ip_allowlist=["203.0.113.7"],
        state="active",
        created_at=created,
        activated_at=created,
        expires_at=None if rng.random() < 0.8 else now + timedelta(days=rng.uniform(1, 300)),
        last_used_at=used,
        deleted_at=now - timedelta(days=rng.uniform(0, 1)) if deleted else None,
    )


async def seed(url: str, keys: int, now: datetime) -> None:
    """N keys: half across 20-key users (``bench0`` first), half on ``hoarder``: its 20
    live keys and every key it deleted over the years."""
    rng = random.Random(7)
    await Tortoise.init(
        config=tortoise_config(Settings(data_dir=Path("/nonexistent"), database_url=url))
    )
    try:
        rows: list[ApiKey] = []
        spread = keys // 2
        for u in range(spread // KEYS_PER_USER):
            user = await User.create(email=f"bench{u}@example.com", password_hash="unused")
            rows += [_key(rng, user.id, now) for _ in range(KEYS_PER_USER)]
        hoarder = await User.create(email="hoarder@example.com", password_hash="unused")
        deleted = keys - len(rows) - KEYS_PER_USER
        rows += [_key(rng, hoarder.id, now, deleted=True) for _ in range(deleted)]
        rows += [_key(rng, hoarder.id, now) for _ in range(KEYS_PER_USER)]
        await ApiKey.bulk_create(rows, batch_size=2000)
        (conn,) = connections.all()
        await conn.execute_script("ANALYZE")
    finally:
        await Tortoise.close_connections()


PLAN_SQL = (
    "SELECT id FROM api_keys WHERE user_id = {uid} AND state = 'active' "
    "AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at > {now}) "
    "AND (last_used_at <= {cutoff} OR (last_used_at IS NULL AND created_at <= {cutoff})) "
    "ORDER BY id DESC LIMIT 21"
)


async def plan(postgres: bool, user_id: int, now: datetime) -> list[str]:
    (conn,) = connections.all()
    cutoff = now - timedelta(days=DAYS)
    if postgres:
        sql = "EXPLAIN ANALYZE " + PLAN_SQL.format(uid=user_id, now="$1", cutoff="$2")
        rows = await conn.execute_query_dict(sql, [now, cutoff])
        return [str(next(iter(r.values()))) for r in rows]
    sql = "EXPLAIN QUERY PLAN " + PLAN_SQL.format(uid=user_id, now="?1", cutoff="?2")
    rows = await conn.execute_query_dict(sql, [now.isoformat(" "), cutoff.isoformat(" ")])
    return [str(r.get("detail")) for r in rows]


async def run(url: str, keys: int, n: int, postgres: bool) -> None:
    now = datetime.now(UTC)
    await migrate(Settings(data_dir=Path("/nonexistent"), database_url=url))
    started = time.perf_counter()
    await seed(url, keys, now)
    print(
        f"\n== {'PostgreSQL' if postgres else 'SQLite'}: seeded {keys:,} keys in "
        f"{time.perf_counter() - started:.1f} s"
    )
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            data_dir=Path(data),
            database_url=url,
            master_key=base64.b64encode(os.urandom(32)).decode(),
            expiry_notice_interval_seconds=0,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            rt = app.state.rt
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                for email, what in (
                    ("bench0@example.com", "user with 20 keys"),
                    ("hoarder@example.com", f"20 live of {keys - keys // 2:,} keys"),
                ):
                    user = await User.get(email=email)
                    token = await start_session(rt, user.id, LOCAL_CLIENT)
                    samples, body = await timed(c, QUERY, {"days": DAYS}, token, n)
                    total = body["data"]["apiKeys"]["totalCount"]
                    print(
                        f"apiKeys(unusedForDays: {DAYS}, first: 20) + totalCount, {what}: "
                        f"p50 {statistics.median(samples):.2f} ms, p99 {pct(samples, 0.99):.2f} ms"
                        f" ({total:,} unused)"
                    )
                    print("  plan: " + "\n        ".join(await plan(postgres, user.id, now)))


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        await run(f"sqlite://{folder}/bench.sqlite3", args.keys, args.n, postgres=False)
    if not args.postgres:
        return
    name = f"gql_keys_bench_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(asyncpg_dsn(args.postgres))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await run(with_database(args.postgres, name), args.keys, args.n, postgres=True)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--n", type=int, default=50, help="timed runs per query")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("GQL_KEYS_TEST_POSTGRES_URL", ""),
        help="PostgreSQL server URL (default: $GQL_KEYS_TEST_POSTGRES_URL); SQLite only if empty",
    )
    asyncio.run(main(parser.parse_args()))
