"""The usage-log writer's ceiling on PostgreSQL: rows per second through the group commit.

``python -m bench.usage_ingest [--rows N] [--rounds R] [--batch B] [--inflight F]`` creates
a fresh PostgreSQL database (dropped afterwards), migrates it (``usage_logs`` partitioned
by day), makes 20 keys, then pushes N decisions through the real
:class:`~gql_keys.usage.writer.UsageWriter` (one flusher, batches of up to B rows, each in
one durable transaction with its day totals, rollups and last-use marks; F decisions
waiting at a time, as F concurrent requests would) with each batch writer in turn:

* ``copy``    ``COPY`` (asyncpg ``copy_records_to_table``), ids from the sequence first
* ``insert``  one multi-row ``INSERT .. RETURNING id``

Rounds alternate between the two; it prints rows/s per round, the medians and the ratio.
PostgreSQL's ``synchronous_commit`` and ``fsync`` are printed too: "durable" means both on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from tortoise import Tortoise

from bench.usage_queries import asyncpg_dsn, with_database
from gql_keys.broker.memory import InProcessBroker
from gql_keys.db import connection_label, migrate, tortoise_config
from gql_keys.metrics import Metrics
from gql_keys.models import ApiKey, User
from gql_keys.repositories.usage_writes import write_batch, write_batch_insert
from gql_keys.settings import Settings
from gql_keys.usage.writer import BatchWriter, UsageEntry, UsageWriter

WRITERS: dict[str, BatchWriter] = {"copy": write_batch, "insert": write_batch_insert}
KEYS = 20


async def make_keys(now: datetime) -> list[ApiKey]:
    user = await User.create(email="ingest@example.com", password_hash="unused")
    await ApiKey.bulk_create(
        [
            ApiKey(
                user_id=user.id,
                key=secrets.token_hex(16),
                label=f"key {k}",
                algorithm="HMAC_SHA512",
                scopes=["SPOT_READ"],
                ip_allowlist=[],
                state="active",
                created_at=now - timedelta(days=1),
            )
            for k in range(KEYS)
        ]
    )
    return list(await ApiKey.filter(user_id=user.id).order_by("id"))


def entries(keys: list[ApiKey], count: int) -> list[UsageEntry]:
    now = datetime.now(UTC)
    made = []
    for n in range(count):
        key = keys[n % len(keys)]
        allowed = n % 10 != 0
        made.append(
            UsageEntry(
                api_key_id=key.id,
                owner_id=key.user_id,
                key=key.key,
                occurred_at=now + timedelta(microseconds=n),
                allowed=allowed,
                code="VALID" if allowed else "RATE_LIMITED",
                client_ip=f"198.51.100.{n % 250 + 1}",
                method="GET",
                path="/api/v4/spot/orders",
                required_scope="SPOT_READ",
            )
        )
    return made


async def one_round(
    label: str, writer: BatchWriter, batch: list[UsageEntry], max_rows: int, inflight: int
) -> float:
    usage = UsageWriter(label, InProcessBroker(), Metrics(), max_rows=max_rows, writer=writer)
    await usage.start()
    waiting: deque[asyncio.Future[int]] = deque()
    started = time.perf_counter()
    for entry in batch:
        waiting.append(usage.record_nowait(entry))
        if len(waiting) >= inflight:
            await waiting.popleft()
    await asyncio.gather(*waiting)
    elapsed = time.perf_counter() - started
    await usage.close()
    return len(batch) / elapsed


async def main(args: argparse.Namespace) -> None:
    name = f"gql_keys_ingest_{secrets.token_hex(3)}"
    url = with_database(args.postgres, name)
    admin = await asyncpg.connect(asyncpg_dsn(args.postgres))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        settings = Settings(data_dir=Path("/nonexistent"), database_url=url)
        await migrate(settings)
        await Tortoise.init(config=tortoise_config(settings))
        try:
            conn = Tortoise.get_connection(connection_label(url))
            modes = await conn.execute_query_dict(
                "SELECT current_setting('synchronous_commit') AS sc, current_setting('fsync') AS f"
            )
            print(
                f"PostgreSQL synchronous_commit={modes[0]['sc']} fsync={modes[0]['f']}; "
                f"{args.rows:,} rows a round, batches of up to {args.batch}, "
                f"{args.inflight} waiting; load average {os.getloadavg()[0]:.1f}"
            )
            keys = await make_keys(datetime.now(UTC))
            results: dict[str, list[float]] = {mode: [] for mode in WRITERS}
            await one_round(connection_label(url), write_batch, entries(keys, 2000), 500, 500)
            for r in range(args.rounds):
                for mode, writer in WRITERS.items():
                    rate = await one_round(
                        connection_label(url),
                        writer,
                        entries(keys, args.rows),
                        args.batch,
                        args.inflight,
                    )
                    results[mode].append(rate)
                    print(f"round {r + 1} {mode:7} {rate:10,.0f} rows/s")
        finally:
            await Tortoise.close_connections()
        medians = {mode: statistics.median(rates) for mode, rates in results.items()}
        print(f"\n{'writer':8} {'median rows/s':>14}")
        for mode, rate in medians.items():
            print(f"{mode:8} {rate:14,.0f}")
        print(f"copy / insert: {medians['copy'] / medians['insert']:.2f}x (goal: >= 50,000 rows/s)")
    finally:
        admin = await asyncpg.connect(asyncpg_dsn(args.postgres))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="usage_batch_max_rows")
    parser.add_argument("--inflight", type=int, default=5000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "GQL_KEYS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
        ),
    )
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
