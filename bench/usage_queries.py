"""Usage-log queries on PostgreSQL, partitioned by day vs one unpartitioned table.

``python -m bench.usage_queries [--rows N] [--rounds R]`` creates two fresh PostgreSQL
databases (dropped afterwards) and migrates both: in ``partitioned`` ``usage_logs`` has a
partition per day (what ``gql-keys migrate`` makes), in ``flat`` it is replaced by one
plain table with the same columns and indexes. Each gets 50 users with 20 keys each and
the same N usage-log rows over 30 days (2 % from unknown keys), generated inside
PostgreSQL (``generate_series``, deterministic ``setseed``), with their HOUR and DAY
rollups and day totals, then ``VACUUM ANALYZE``.

It then drives the real ASGI app in-process (httpx ``ASGITransport``: parsing,
validation, resolvers, SQL) on each database in turn, R rounds, and prints the median of
the rounds' p50 per query and layout: a user's first page (with and without
``totalCount``), a key-filtered page, the monitor's page with its exact count, a 30-day
HOUR ``usage`` query. Goals: first page and key page <= 10 ms, HOUR usage <= 20 ms, the
monitor's page with its count <= 50 ms. Then it removes the oldest days, one per round:
``logs prune`` drops a partition in ``partitioned`` and deletes in batches of 5,000 in
``flat``, both timed, and prints the plans (``EXPLAIN ANALYZE``) of the partitioned queries.

Seeding 10 million rows twice takes minutes: ``--rounds 0 --keep`` only seeds and keeps
the databases, ``--reuse STEM`` measures them (each run prunes their oldest days).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import secrets
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
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
from gql_keys.repositories import usage_partitions
from gql_keys.services import service_tokens
from gql_keys.services.sessions import start_session
from gql_keys.settings import Settings
from harness.accounts import LOCAL_CLIENT

USERS = 50
KEYS_PER_USER = 20
DAYS = 30
LAYOUTS = ("partitioned", "flat")

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
GOALS = {
    "user first page": 10.0,
    "key-filtered page (+ totalCount)": 10.0,
    "30-day HOUR usage, one key": 20.0,
    "monitor page + totalCount": 50.0,
}

# One chunk of rows: $1 start, $2 seconds between rows, $3 first row number, $4 count.
SEED_ROWS = """
WITH keys AS (SELECT row_number() OVER (ORDER BY id) AS i, id, key FROM api_keys),
r AS (
  SELECT g, random() AS u, random() AS a, random() AS c,
         1 + floor(random() * (SELECT count(*) FROM keys))::int AS i
  FROM generate_series($3::bigint, $3::bigint + $4 - 1) AS g
)
INSERT INTO usage_logs (api_key_id, key, occurred_at, allowed, code, client_ip, method, path,
                        required_scope, signed_with_previous_secret)
SELECT CASE WHEN r.u < 0.02 THEN NULL ELSE k.id END,
       CASE WHEN r.u < 0.02 THEN 'unknown-' || r.g ELSE k.key END,
       $1::timestamptz + r.g * $2::float8 * interval '1 second',
       r.u >= 0.02 AND r.a < 0.9,
       CASE WHEN r.u < 0.02 THEN 'KEY_NOT_FOUND' WHEN r.a < 0.9 THEN 'VALID'
            ELSE (ARRAY['INVALID_SIGNATURE', 'RATE_LIMITED', 'IP_NOT_ALLOWED',
                        'TIMESTAMP_OUT_OF_WINDOW'])[1 + floor(r.c * 4)::int] END,
       '198.51.100.' || (1 + floor(r.c * 254)::int), 'GET', '/api/v4/spot/orders',
       'SPOT_READ', FALSE
FROM r JOIN keys k ON k.i = r.i ORDER BY r.g
"""
SEED_ROLLUPS = [
    "INSERT INTO usage_rollups (api_key_id, bucket, bucket_start, allowed, denied) "
    f"SELECT api_key_id, '{size.upper()}', date_trunc('{size}', occurred_at), "
    "count(*) FILTER (WHERE allowed), count(*) FILTER (WHERE NOT allowed) "
    "FROM usage_logs WHERE api_key_id IS NOT NULL GROUP BY 1, 3"
    for size in ("hour", "day")
] + [
    "INSERT INTO usage_totals (day, shard, allowed, denied) "
    "SELECT date_trunc('day', occurred_at), 0, count(*) FILTER (WHERE allowed), "
    "count(*) FILTER (WHERE NOT allowed) FROM usage_logs GROUP BY 1"
]
# ``flat``: the table as it was before migration 0012, same columns and indexes.
FLATTEN = [
    "DROP TABLE usage_logs",
    "CREATE TABLE usage_logs (id BIGSERIAL PRIMARY KEY, key VARCHAR(128) NOT NULL, "
    "occurred_at TIMESTAMPTZ NOT NULL, allowed BOOL NOT NULL, code VARCHAR(32) NOT NULL, "
    "client_ip VARCHAR(45) NOT NULL, method VARCHAR(16) NOT NULL, path VARCHAR(512) NOT NULL, "
    "required_scope VARCHAR(32), api_key_id BIGINT REFERENCES api_keys (id) ON DELETE SET NULL, "
    "signed_with_previous_secret BOOL NOT NULL DEFAULT FALSE)",
    "CREATE INDEX ON usage_logs (api_key_id, occurred_at, id)",
    "CREATE INDEX ON usage_logs (api_key_id, allowed, occurred_at, id)",
    "CREATE INDEX ON usage_logs (occurred_at, id)",
    "CREATE INDEX ON usage_logs (api_key_id, occurred_at) WHERE signed_with_previous_secret",
]


def asyncpg_dsn(url: str, database: str | None = None) -> str:
    parts = urlsplit(url)
    path = f"/{database}" if database else parts.path
    return urlunsplit(("postgresql", parts.netloc, path, parts.query, ""))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


async def make_keys(url: str, now: datetime) -> None:
    from tortoise import Tortoise

    from gql_keys.db import tortoise_config

    settings = Settings(data_dir=Path("/nonexistent"), database_url=url)
    await Tortoise.init(config=tortoise_config(settings))
    try:
        for u in range(USERS):
            user = await User.create(email=f"bench{u}@example.com", password_hash="unused")
            await ApiKey.bulk_create(
                [
                    ApiKey(
                        user_id=user.id,
                        key=f"bench-{u}-{k}-" + secrets.token_hex(8),
                        label=f"key {k}",
                        algorithm="HMAC_SHA512",
                        scopes=["SPOT_READ"],
                        ip_allowlist=[],
                        state="active",
                        created_at=now - timedelta(days=DAYS + 1),
                    )
                    for k in range(KEYS_PER_USER)
                ]
            )
        if layout_of(url) == "partitioned":
            today = now.date()
            await usage_partitions.ensure_days(today - timedelta(days=DAYS), today)
    finally:
        await Tortoise.close_connections()


def layout_of(url: str) -> str:
    return "flat" if urlsplit(url).path.endswith("_flat") else "partitioned"


async def seed(url: str, rows: int, now: datetime) -> list[list[int]]:
    """Users and keys (via the ORM), then rows, rollups and totals inside PostgreSQL."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        if layout_of(url) == "flat":
            for statement in FLATTEN:
                await conn.execute(statement)
    finally:
        await conn.close()
    await make_keys(url, now)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("SET timezone = 'UTC'")
        await conn.execute("SELECT setseed(0.7)")
        start = now - timedelta(days=DAYS)
        step = DAYS * 86400 / rows
        chunk = 1_000_000
        for first in range(0, rows, chunk):
            await conn.execute(SEED_ROWS, start, step, first, min(chunk, rows - first))
        for statement in SEED_ROLLUPS:
            await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps
        grouped: dict[int, list[int]] = defaultdict(list)
        for row in await conn.fetch("SELECT user_id, id FROM api_keys ORDER BY user_id, id"):
            grouped[row["user_id"]].append(row["id"])
    finally:
        await conn.close()
    return [grouped[u] for u in sorted(grouped)]


async def kept(url: str) -> tuple[list[list[int]], datetime]:
    """The keys by user of a database seeded by an earlier run, and when its rows end."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        grouped: dict[int, list[int]] = defaultdict(list)
        for row in await conn.fetch("SELECT user_id, id FROM api_keys ORDER BY user_id, id"):
            grouped[row["user_id"]].append(row["id"])
        last: datetime = await conn.fetchval("SELECT max(occurred_at) FROM usage_logs")
    finally:
        await conn.close()
    return [grouped[u] for u in sorted(grouped)], last.replace(microsecond=0) + timedelta(seconds=1)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def timed(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str, n: int
) -> tuple[list[float], dict[str, Any]]:
    samples: list[float] = []
    body: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {token}"}
    # Warm caches (parser, validation; PostgreSQL plans a prepared statement afresh for
    # its first five runs, then may keep a generic plan, as a busy server does).
    for _ in range(8):
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


PLANS = {
    # Pages as the repository sends them first: over the last day (it widens the window
    # only when the page does not fill).
    "user first page": (
        "SELECT * FROM usage_logs WHERE api_key_id = ANY(ARRAY("
        "SELECT id FROM api_keys WHERE user_id = $1)) "
        "AND occurred_at >= now() - interval '1 day' "
        "ORDER BY occurred_at DESC, id DESC LIMIT 101",
        "user",
    ),
    "key-filtered page": (
        "SELECT * FROM usage_logs WHERE api_key_id = $1 "
        "AND occurred_at >= now() - interval '1 day' "
        "ORDER BY occurred_at DESC, id DESC LIMIT 101",
        "key",
    ),
    "monitor page": (
        "SELECT * FROM usage_logs WHERE occurred_at >= now() - interval '1 day' "
        "ORDER BY occurred_at DESC, id DESC LIMIT 101",
        "",
    ),
    "monitor count (kept)": (
        "SELECT SUM(allowed) AS a, SUM(denied) AS d FROM usage_totals",
        "",
    ),
    "monitor count (COUNT(*), before)": ("SELECT count(*) FROM usage_logs", ""),
    "30-day HOUR rollups": (
        "SELECT * FROM usage_rollups WHERE api_key_id = ANY($1::bigint[]) AND bucket = 'HOUR' "
        "AND bucket_start >= now() - interval '30 days' ORDER BY api_key_id, bucket_start",
        "keys",
    ),
}


async def explain(url: str, user_id: int, key_id: int) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for name, (sql, arg) in PLANS.items():
            bound: dict[str, list[Any]] = {"user": [user_id], "key": [key_id], "keys": [[key_id]]}
            args = bound.get(arg, [])
            rows = await conn.fetch("EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) " + sql, *args)
            print(f"\n-- EXPLAIN ANALYZE {name} ({layout_of(url)})")
            for row in rows:
                print("   ", row[0])
    finally:
        await conn.close()


async def timed_sql(url: str, sql: str, n: int) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            await conn.fetchval(sql)
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)
    finally:
        await conn.close()


class Bench:
    """One database, its app in-process and the credentials of its first user."""

    def __init__(self, url: str, keys_of: list[list[int]], now: datetime) -> None:
        self.url, self.keys_of, self.now = url, keys_of, now
        self.user_id = 0
        self.total = 0

    async def round(self, n: int) -> dict[str, float]:
        """p50 ms of each query."""
        with tempfile.TemporaryDirectory() as data:
            settings = Settings(
                data_dir=Path(data),
                database_url=self.url,
                master_key=base64.b64encode(os.urandom(32)).decode(),
                usage_partition_interval_seconds=0,
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                user_id = (await User.get(email="bench0@example.com")).id
                self.user_id = user_id
                session = await start_session(app.state.rt, user_id, LOCAL_CLIENT)
                monitor = await service_tokens.create(
                    f"bench-monitor-{secrets.token_hex(3)}", ServiceRole.MONITOR
                )
                transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                    return await self._queries(c, session, monitor, n)

    async def _queries(
        self, c: httpx.AsyncClient, session: str, monitor: str, n: int
    ) -> dict[str, float]:
        key_id = self.keys_of[0][0]
        global_key = encode_global_id("ApiKey", key_id)
        since = (self.now - timedelta(days=DAYS)).isoformat()
        p50: dict[str, float] = {}
        s, _ = await timed(c, PAGE_NO_COUNT, {}, session, n)
        p50["user first page"] = statistics.median(s)
        s, body = await timed(c, PAGE, {}, session, n)
        p50["user first page + totalCount"] = statistics.median(s)
        cursor = body["data"]["usageLogs"]["pageInfo"]["endCursor"]
        s, _ = await timed(c, PAGE_NO_COUNT, {"after": cursor}, session, n)
        p50["user page 2"] = statistics.median(s)
        s, _ = await timed(c, PAGE, {"filter": {"keyId": global_key}}, session, n)
        p50["key-filtered page (+ totalCount)"] = statistics.median(s)
        flt = {"allowed": False, "codes": ["RATE_LIMITED"]}
        s, _ = await timed(c, PAGE_NO_COUNT, {"filter": flt}, session, n)
        p50["user page, denied + code"] = statistics.median(s)
        s, body = await timed(c, PAGE, {}, monitor, n)
        self.total = body["data"]["usageLogs"]["totalCount"]
        p50["monitor page + totalCount"] = statistics.median(s)
        s, _ = await timed(c, PAGE_NO_COUNT, {}, monitor, n)
        p50["monitor page"] = statistics.median(s)
        s, body = await timed(c, USAGE, {"id": global_key, "since": since}, session, n)
        p50["30-day HOUR usage, one key"] = statistics.median(s)
        s, _ = await timed(c, "{ __typename }", {}, session, n)
        p50["floor: { __typename } (no SQL)"] = statistics.median(s)
        for label, call in self._service_calls(key_id):
            samples = []
            for _ in range(n):
                started = time.perf_counter()
                await call()
                samples.append((time.perf_counter() - started) * 1000)
            p50[label] = statistics.median(samples)
        p50["SQL: SELECT count(*) (monitor, before)"] = await timed_sql(
            self.url, "SELECT count(*) FROM usage_logs", max(3, n // 10)
        )
        return p50

    def _service_calls(self, key_id: int) -> list[tuple[str, Callable[[], Awaitable[object]]]]:
        """The same reads below GraphQL: the SQL and the ORM's rows only."""
        from gql_keys.services import usage as svc

        user, every = svc.LogScope(user_id=self.user_id), svc.LogScope()
        none, one_key = svc.LogFilter(), svc.LogFilter(api_key_id=key_id)
        return [
            ("svc: user first page", lambda: svc.page_logs(user, none, 100, None)),
            ("svc: key-filtered page + count", lambda: _both(user, one_key)),
            ("svc: monitor count (kept)", lambda: svc.count_logs(every, none)),
        ]

    async def prune_oldest_day(self, day: int) -> tuple[float, int]:
        """``logs prune`` of the oldest remaining day: seconds taken and rows removed."""
        from tortoise import Tortoise

        from gql_keys.db import tortoise_config
        from gql_keys.services.usage import prune_logs

        start = self.now - timedelta(days=DAYS)
        end = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=day)
        settings = Settings(data_dir=Path("/nonexistent"), database_url=self.url)
        await Tortoise.init(config=tortoise_config(settings))
        try:
            started = time.perf_counter()
            removed = await prune_logs(self.now, self.now - end, batch_size=5000)
            return time.perf_counter() - started, removed
        finally:
            await Tortoise.close_connections()


async def _both(scope: Any, flt: Any) -> None:
    from gql_keys.services import usage as svc

    await svc.page_logs(scope, flt, 100, None)
    await svc.count_logs(scope, flt)


async def create_database(base: str, name: str) -> str:
    admin = await asyncpg.connect(asyncpg_dsn(base))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return with_database(base, name)


async def main(args: argparse.Namespace) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    base = args.postgres
    stem = args.reuse or f"gql_keys_bench_{secrets.token_hex(3)}"
    now = datetime.now(UTC).replace(microsecond=0)
    benches: dict[str, Bench] = {}
    names = {layout: f"{stem}_{layout}" for layout in LAYOUTS}
    try:
        for layout, name in names.items():
            if args.reuse:
                url = with_database(base, name)
                keys_of, seeded_at = await kept(url)
                print(f"{layout}: reusing {name} (seeded up to {seeded_at})", flush=True)
                benches[layout] = Bench(url, keys_of, seeded_at)
                continue
            url = await create_database(base, name)
            await migrate(Settings(data_dir=Path("/nonexistent"), database_url=url))
            started = time.perf_counter()
            keys_of = await seed(url, args.rows, now)
            print(
                f"{layout}: seeded {args.rows:,} usage rows + rollups in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            benches[layout] = Bench(url, keys_of, now)
        if args.rounds == 0:
            return  # seeded only (with --keep: for a later --reuse)
        results: dict[str, dict[str, list[float]]] = {
            layout: defaultdict(list) for layout in LAYOUTS
        }
        for r in range(args.rounds):
            for layout, bench in benches.items():
                for query, value in (await bench.round(args.n)).items():
                    results[layout][query].append(value)
            print(f"round {r + 1} done (load average {os.getloadavg()[0]:.1f})", flush=True)
        totals = {layout: bench.total for layout, bench in benches.items()}
        print(f"\nmonitor totalCount: {totals}")
        print(f"\np50 ms, median of {args.rounds} rounds of {args.n} requests")
        print(f"{'query':40} {'partitioned':>12} {'flat':>8} {'goal':>6}")
        for query in results["partitioned"]:
            ms = statistics.median(results["partitioned"][query])
            flat = statistics.median(results["flat"][query])
            goal = GOALS.get(query)
            mark = "" if goal is None else f"{goal:6.0f}{' ok' if ms <= goal else ' MISSED'}"
            print(f"{query:40} {ms:12.1f} {flat:8.1f} {mark}")
        print("\nremoving the oldest day (logs prune): seconds, rows")
        for day in range(1, args.rounds + 1):
            line = []
            for layout, bench in benches.items():
                seconds, removed = await bench.prune_oldest_day(day)
                line.append(f"{layout} {seconds:8.3f} s {removed:>9,} rows")
            print(f"day {day}: " + "   ".join(line), flush=True)
        if args.explain:
            part = benches["partitioned"]
            await explain(part.url, part.user_id, part.keys_of[0][0])
    finally:
        if not args.keep:
            admin = await asyncpg.connect(asyncpg_dsn(base))
            for name in names.values():
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        else:
            print(f"kept databases {', '.join(names.values())}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-n", type=int, default=50, help="timed requests per query and round")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "GQL_KEYS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--no-explain", dest="explain", action="store_false")
    parser.add_argument("--keep", action="store_true", help="keep the seeded databases")
    parser.add_argument(
        "--reuse",
        metavar="STEM",
        help="measure the databases an earlier --keep run printed (gql_keys_bench_xxxxxx) "
        "instead of seeding new ones; each run prunes their oldest days",
    )
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
