"""Writing one batch of usage-log rows, rollups and last-use marks in one transaction.

Raw SQL: the hot path writes hundreds of rows per commit and needs their ids back.
One builder makes every statement for both writers (pooled Tortoise connection, and the
dedicated SQLite thread); valid on SQLite (>= 3.35 for RETURNING) and PostgreSQL, only
the parameter style and SQLite's value forms differ.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import chain
from typing import Any

from tortoise.connection import connections
from tortoise.transactions import in_transaction

from gql_keys.repositories.sql import SqlParams, sqlite_datetime

LOG_COLUMNS = (
    "api_key_id",
    "key",
    "occurred_at",
    "allowed",
    "code",
    "client_ip",
    "method",
    "path",
    "required_scope",
    "signed_with_previous_secret",
)
# usage_totals rows per day: each process adds to its own, so workers never queue on one.
TOTAL_SHARDS = 16
DAY_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class RollupDelta:
    api_key_id: int
    bucket: str  # MINUTE | HOUR | DAY
    bucket_start: datetime
    allowed: int
    denied: int


@dataclass(frozen=True, slots=True)
class LastUse:
    api_key_id: int
    at: datetime
    ip: str


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    params: list[object]


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def utc_day(at: datetime) -> int:
    """Days from the epoch to ``at``'s UTC day."""
    if at.tzinfo is UTC:
        return at.toordinal() - _EPOCH_ORDINAL
    return int(at.timestamp()) // DAY_SECONDS


def _sqlite_row(row: Sequence[object]) -> Sequence[object]:
    """A usage-log row (:data:`LOG_COLUMNS` order) with its time and flag in SQLite form."""
    occurred_at, allowed = row[2], row[3]
    if isinstance(occurred_at, datetime):
        return (row[0], row[1], sqlite_datetime(occurred_at), 1 if allowed else 0, *row[4:])
    if isinstance(allowed, bool):
        return (*row[:3], 1 if allowed else 0, *row[4:])
    return row


@functools.lru_cache(maxsize=128)
def _insert_sql(count: int, postgres: bool, returning: bool, or_rollback: bool) -> str:
    """The multi-row INSERT of ``count`` usage-log rows."""
    width = len(LOG_COLUMNS)
    if postgres:
        groups = (
            "(" + ", ".join(f"${n * width + i + 1}" for i in range(width)) + ")"
            for n in range(count)
        )
    else:
        groups = ("(" + ", ".join("?" * width) + ")" for _ in range(count))
    verb = "INSERT OR ROLLBACK" if or_rollback else "INSERT"
    sql = f"{verb} INTO usage_logs ({', '.join(LOG_COLUMNS)}) VALUES " + ", ".join(groups)
    return sql + " RETURNING id" if returning else sql


def insert_logs(
    rows: Sequence[Sequence[object]], postgres: bool, returning: bool, or_rollback: bool = False
) -> Statement:
    """Insert ``rows`` (values in :data:`LOG_COLUMNS` order), optionally returning ids.

    ``or_rollback`` (SQLite only): a failing row rolls back the whole transaction rather
    than the statement alone, so SQLite keeps no statement journal (a copy of every page
    the statement changes, which spills to a temporary file past 64 KiB: a batch of a few
    dozen rows touches more than that across the table and its four indexes).
    """
    values = rows if postgres else map(_sqlite_row, rows)
    sql = _insert_sql(len(rows), postgres, returning, or_rollback and not postgres)
    return Statement(sql, list(chain.from_iterable(values)))


def day_totals(rows: Sequence[Sequence[object]]) -> dict[int, list[int]]:
    """Rows per UTC day (as days since the epoch): [allowed, denied]."""
    counts: dict[int, list[int]] = {}
    for row in rows:
        at, allowed = row[2], row[3]
        assert isinstance(at, datetime)
        day = utc_day(at)
        total = counts.get(day)
        if total is None:
            total = counts[day] = [0, 0]
        total[0 if allowed else 1] += 1
    return counts


def add_totals(
    counts: dict[int, list[int]], postgres: bool, shard: int | None = None
) -> Statement | None:
    """Add ``counts`` (see :func:`day_totals`; negative to subtract) to ``usage_totals``."""
    if not counts:
        return None
    shard = os.getpid() % TOTAL_SHARDS if shard is None else shard
    params = SqlParams(postgres)
    values_sql = ", ".join(
        params.row((datetime.fromtimestamp(day * DAY_SECONDS, UTC), shard, allowed, denied))
        for day, (allowed, denied) in sorted(counts.items())
    )
    return Statement(
        "INSERT INTO usage_totals (day, shard, allowed, denied) "
        f"VALUES {values_sql} "
        "ON CONFLICT (day, shard) DO UPDATE SET "
        "allowed = usage_totals.allowed + excluded.allowed, "
        "denied = usage_totals.denied + excluded.denied",
        params.values,
    )


def follow_ups(
    rollups: Sequence[RollupDelta],
    last_uses: Sequence[LastUse],
    postgres: bool,
    rows: Sequence[Sequence[object]] = (),
) -> list[Statement]:
    """The day totals, rollup upsert and last-use marks that go with a batch of log rows.

    Rows are locked in one global order so concurrent batches of several workers cannot
    deadlock on the same keys.
    """
    statements: list[Statement] = []
    totals = add_totals(day_totals(rows), postgres)
    if totals is not None:
        statements.append(totals)
    if rollups:
        params = SqlParams(postgres)
        values_sql = ", ".join(
            params.row((d.api_key_id, d.bucket, d.bucket_start, d.allowed, d.denied))
            for d in sorted(rollups, key=lambda d: (d.api_key_id, d.bucket, d.bucket_start))
        )
        statements.append(
            Statement(
                "INSERT INTO usage_rollups (api_key_id, bucket, bucket_start, allowed, denied) "
                f"VALUES {values_sql} "
                "ON CONFLICT (api_key_id, bucket, bucket_start) DO UPDATE SET "
                "allowed = usage_rollups.allowed + excluded.allowed, "
                "denied = usage_rollups.denied + excluded.denied",
                params.values,
            )
        )
    for use in sorted(last_uses, key=lambda u: u.api_key_id):
        params = SqlParams(postgres)
        at, ip, key_id = params.add(use.at), params.add(use.ip), params.add(use.api_key_id)
        # ``?`` placeholders bind in order, so the time is bound once more for the guard.
        before = params.add(use.at)
        # Another batch with a later use may have committed first: never move back.
        statements.append(
            Statement(
                f"UPDATE api_keys SET last_used_at = {at}, last_used_ip = {ip} "
                f"WHERE id = {key_id} AND (last_used_at IS NULL OR last_used_at < {before})",
                params.values,
            )
        )
    return statements


async def write_batch_insert(
    connection_name: str,
    rows: Sequence[Sequence[object]],
    rollups: Sequence[RollupDelta],
    last_uses: Sequence[LastUse],
) -> list[int]:
    """Insert ``rows`` (values in :data:`LOG_COLUMNS` order) and return their ids in order."""
    async with in_transaction(connection_name) as conn:
        postgres = conn.capabilities.dialect == "postgres"
        insert = insert_logs(rows, postgres, returning=True)
        returned = await conn.execute_query_dict(insert.sql, insert.params)
        # Ids are assigned in VALUES order; RETURNING order is not promised, so sort.
        ids = sorted(int(r["id"]) for r in returned)
        if len(ids) != len(rows):
            raise RuntimeError("usage_logs insert returned the wrong number of ids")
        for statement in follow_ups(rollups, last_uses, postgres, rows):
            await conn.execute_query(statement.sql, statement.params)
    return ids


# One round trip for a batch's ids: COPY returns none, and the live feed names each row.
_TAKE_IDS = (
    "SELECT array_agg(n ORDER BY n) FROM "
    "(SELECT nextval('usage_logs_id_seq') AS n FROM generate_series(1, $1)) AS ids"
)
_COPY_COLUMNS = ["id", *LOG_COLUMNS]


async def write_batch(
    connection_name: str,
    rows: Sequence[Sequence[object]],
    rollups: Sequence[RollupDelta],
    last_uses: Sequence[LastUse],
) -> list[int]:
    """:func:`write_batch_insert`, by ``COPY`` on PostgreSQL (about twice the rows a second,
    see ``bench/usage_ingest.py``), with ids taken from the sequence beforehand."""
    if connections.get(connection_name).capabilities.dialect != "postgres":
        return await write_batch_insert(connection_name, rows, rollups, last_uses)
    async with in_transaction(connection_name) as conn:
        raw: Any = conn._connection  # asyncpg's own, inside the transaction
        ids: list[int] = list(await raw.fetchval(_TAKE_IDS, len(rows)))
        await raw.copy_records_to_table(
            "usage_logs",
            records=[(pk, *row) for pk, row in zip(ids, rows, strict=True)],
            columns=_COPY_COLUMNS,
        )
        for statement in follow_ups(rollups, last_uses, True, rows):
            await conn.execute_query(statement.sql, statement.params)
    return ids


class SqliteBatchWriter:
    """:func:`write_batch` for the embedded SQLite file on a dedicated connection and thread.

    Through aiosqlite every statement of a batch is a round trip between the event loop
    and the database thread, and under load each one waits behind the request traffic;
    here the whole transaction (BEGIN IMMEDIATE .. COMMIT, with the WAL fsync of
    ``synchronous=FULL``) is one call on the writer's own thread. WAL mode lets the
    request path's reads proceed meanwhile.
    """

    uses_tortoise = False  # the writer may await it in place (see UsageWriter._write)

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage-log")
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self.path, timeout=5.0, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            # The upserts' statement journals stay in memory: no temporary file per batch.
            connection.execute("PRAGMA temp_store=MEMORY")
            self._connection = connection
        return self._connection

    def _write(
        self,
        rows: Sequence[Sequence[object]],
        rollups: Sequence[RollupDelta],
        last_uses: Sequence[LastUse],
    ) -> list[int]:
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            # No RETURNING: each returned row is one more sqlite3_step, and every step
            # releases the GIL and has to win it back from the busy event loop (up to
            # the switch interval each time). ``usage_logs.id`` is AUTOINCREMENT and we
            # hold the write lock, so one multi-row INSERT takes consecutive ids in
            # VALUES order, ending at ``lastrowid`` (SQLite errors rather than reuse).
            # The batch is one transaction anyway: it commits or rolls back whole.
            insert = insert_logs(rows, postgres=False, returning=False, or_rollback=True)
            inserted = connection.execute(insert.sql, insert.params)
            last = inserted.lastrowid
            if inserted.rowcount != len(rows) or last is None:
                raise RuntimeError("usage_logs insert wrote the wrong number of rows")
            ids = list(range(last - len(rows) + 1, last + 1))
            for statement in follow_ups(rollups, last_uses, postgres=False, rows=rows):
                connection.execute(statement.sql, statement.params)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return ids

    async def __call__(
        self,
        connection_name: str,
        rows: Sequence[Sequence[object]],
        rollups: Sequence[RollupDelta],
        last_uses: Sequence[LastUse],
    ) -> list[int]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._write, rows, rollups, last_uses)

    async def close(self) -> None:
        def close() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close)
        self._executor.shutdown(wait=True)
