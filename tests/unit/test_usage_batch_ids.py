"""The ids the usage-log writer hands back are the ids of the rows it wrote, in order."""

from __future__ import annotations

from datetime import UTC, datetime

from gql_keys.models import UsageLog
from gql_keys.repositories.usage_writes import SqliteBatchWriter, write_batch
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
