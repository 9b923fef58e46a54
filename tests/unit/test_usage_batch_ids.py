"""The ids the usage-log writer hands back are the ids of the rows it wrote, in order."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest
from tortoise.exceptions import IntegrityError

from gql_keys.models import UsageLog
from gql_keys.repositories.sql import sqlite_datetime
from gql_keys.repositories.usage_writes import (
    SqliteBatchWriter,
    utc_day,
    write_batch,
)
from gql_keys.runtime import Runtime


def _row(n: int) -> tuple[object, ...]:
    at = datetime(2024, 1, 1, 12, 0, n % 60, tzinfo=UTC)
    return (None, f"key-{n}", at, n % 2 == 0, "VALID", "203.0.113.7", "GET", f"/p/{n}", None, False)


async def test_each_returned_id_is_the_row_written_in_that_position(rt: Runtime) -> None:
    writer = rt.usage_writer.writer
    assert isinstance(writer, SqliteBatchWriter) or writer is write_batch
    connection = rt.usage_writer.connection_name
    seen: list[int] = []
    for size in (1, 7, 40):
        start = len(seen)
        rows = [_row(start + i) for i in range(size)]
        ids = await writer(connection, rows, [], [])
        assert len(ids) == size
        stored = {log.id: log for log in await UsageLog.filter(id__in=ids)}
        assert [stored[i].key for i in ids] == [f"key-{start + i}" for i in range(size)]
        assert [stored[i].path for i in ids] == [f"/p/{start + i}" for i in range(size)]
        seen.extend(ids)
    assert seen == sorted(set(seen))


def test_sqlite_rows_store_times_as_tortoise_writes_them() -> None:
    """Rows the writer stores compare and parse like the ORM's own: the same text."""
    rng = random.Random(25)
    times = [datetime.fromtimestamp(rng.uniform(0, 4e9), UTC) for _ in range(2000)]
    times += [t.replace(microsecond=0) for t in times[:50]]  # isoformat drops ".000000"
    times.append(datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=2))))
    for at in times:
        assert sqlite_datetime(at) == at.isoformat(" ")
        assert utc_day(at) == int(at.timestamp()) // 86_400


async def test_a_batch_with_a_bad_row_stores_nothing_and_the_next_batch_is_written(
    rt: Runtime,
) -> None:
    """A row the database refuses fails its whole batch with the database's own error
    (not one about the rollback), and the writer goes on: the next batch is stored with
    ids after the last good ones."""
    writer = rt.usage_writer.writer
    connection = rt.usage_writer.connection_name
    first = await writer(connection, [_row(0), _row(1)], [], [])
    bad = [_row(2), (None, None, *_row(3)[2:]), _row(4)]  # no key: NOT NULL
    with pytest.raises(
        (sqlite3.IntegrityError, asyncpg.NotNullViolationError, IntegrityError),
        match=r"(?i)not.?null|null value",
    ):
        await writer(connection, bad, [], [])
    assert await UsageLog.filter(key__in=["key-2", "key-4"]).count() == 0
    after = await writer(connection, [_row(5)], [], [])
    assert after[0] > first[-1]
    assert (await UsageLog.get(id=after[0])).key == "key-5"
    assert [log.key for log in await UsageLog.all().order_by("id")] == ["key-0", "key-1", "key-5"]
