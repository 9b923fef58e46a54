"""Daily partitions of ``usage_logs`` on PostgreSQL: made ahead, dropped past retention.

``usage_logs`` is partitioned by RANGE (occurred_at), one partition per UTC day
(``usage_logs_pYYYYMMDD``) and a DEFAULT partition (``usage_logs_default``) that takes a
row of any day without one, so no row is ever refused. Making a day's partition moves
that day's rows out of the DEFAULT partition in the same transaction. Every change runs
under one advisory lock: of several workers sweeping at once, one does the work and the
others then find nothing to do. SQLite has no partitions: every call here is a no-op there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from gql_keys.models import UsageLog

PARENT = "usage_logs"
DEFAULT = "usage_logs_default"
_NAME = re.compile(r"^usage_logs_p(\d{8})$")
# pg_advisory_xact_lock key: "usage" in ASCII, one lock for every partition change.
LOCK_KEY = 0x7573616765


@dataclass(frozen=True, slots=True)
class Dropped:
    day: date
    rows: int


def partition_name(day: date) -> str:
    return f"usage_logs_p{day:%Y%m%d}"


def _bound(day: date) -> str:
    return f"'{day:%Y-%m-%d} 00:00:00+00'"


def _start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _connection_name() -> str:
    name: str = UsageLog._meta.default_connection or "default"
    return name


def _connection() -> BaseDBAsyncClient:
    return UsageLog._meta.db


def is_postgres() -> bool:
    return _connection().capabilities.dialect == "postgres"


async def is_partitioned() -> bool:
    if not is_postgres():
        return False
    rows = await _connection().execute_query_dict(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = $1 AND pg_table_is_visible(c.oid)",
        [PARENT],
    )
    return bool(rows)


async def _days(conn: BaseDBAsyncClient) -> set[date]:
    rows = await conn.execute_query_dict(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1 "
        "AND pg_table_is_visible(p.oid)",
        [PARENT],
    )
    days: set[date] = set()
    for row in rows:
        match = _NAME.match(row["name"])
        if match is not None:
            days.add(datetime.strptime(match.group(1), "%Y%m%d").date())
    return days


async def partition_days() -> list[date]:
    """The days that have a partition of their own, oldest first."""
    if not await is_partitioned():
        return []
    return sorted(await _days(_connection()))


async def default_rows() -> int:
    """Rows waiting in the DEFAULT partition (a day that had no partition of its own)."""
    if not await is_partitioned():
        return 0
    rows = await _connection().execute_query_dict(f"SELECT count(*) AS n FROM {DEFAULT}")
    return int(rows[0]["n"])


async def _make(conn: BaseDBAsyncClient, day: date) -> None:
    name, start = partition_name(day), _start(day)
    # Writes of this day into DEFAULT wait until the partition is attached.
    await conn.execute_script(f"LOCK TABLE {DEFAULT} IN EXCLUSIVE MODE")
    await conn.execute_script(
        f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    await conn.execute_query(
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE occurred_at >= $1 AND occurred_at < $2 "
        f"RETURNING *) INSERT INTO {name} SELECT * FROM moved",
        [start, start + timedelta(days=1)],
    )
    # ATTACH (not CREATE .. PARTITION OF) takes only a SHARE UPDATE EXCLUSIVE lock on
    # the parent: reads and writes of other days go on meanwhile.
    await conn.execute_script(
        f"ALTER TABLE {PARENT} ATTACH PARTITION {name} "
        f"FOR VALUES FROM ({_bound(day)}) TO ({_bound(day + timedelta(days=1))})"
    )


async def ensure_days(first: date, last: date) -> list[date]:
    """Make the partitions of ``first`` .. ``last`` that are missing; the days made."""
    if not await is_partitioned():
        return []
    made: list[date] = []
    day = first
    while day <= last:
        async with in_transaction(_connection_name()) as conn:
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY])
            if day not in await _days(conn):
                await _make(conn, day)
                made.append(day)
        day += timedelta(days=1)
    return made


async def ensure_ahead(now: datetime, ahead_days: int) -> list[date]:
    """Partitions from yesterday to ``ahead_days`` after today; the days made."""
    today = now.astimezone(UTC).date()
    return await ensure_days(today - timedelta(days=1), today + timedelta(days=ahead_days))


async def drop_days_before(cutoff: datetime) -> list[Dropped]:
    """Detach and drop every day partition that ends at or before ``cutoff``.

    The day's kept total goes with it (its rows, counted from ``usage_totals``).
    """
    if not await is_partitioned():
        return []
    dropped: list[Dropped] = []
    for day in sorted(await _days(_connection())):
        if _start(day) + timedelta(days=1) > cutoff:
            break
        async with in_transaction(_connection_name()) as conn:
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY])
            if day not in await _days(conn):
                continue
            rows = await conn.execute_query_dict(
                "DELETE FROM usage_totals WHERE day = $1 RETURNING allowed + denied AS n",
                [_start(day)],
            )
            name = partition_name(day)
            await conn.execute_script(f"ALTER TABLE {PARENT} DETACH PARTITION {name}")
            await conn.execute_script(f"DROP TABLE {name}")
        dropped.append(Dropped(day, sum(int(r["n"]) for r in rows)))
    return dropped
