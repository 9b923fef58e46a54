"""``lastUsedAt`` only moves forward, whatever order the usage-log batches commit in.

Written through the real group-commit writer: the dedicated SQLite thread on the
embedded file, the pooled connection on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gql_keys.models import ApiKey
from gql_keys.repositories.usage_writes import SqliteBatchWriter, write_batch
from gql_keys.runtime import Runtime
from harness.keys import create_active_key, create_user
from tests.api.usage_support import entry, record

LATER = datetime(2026, 11, 25, 12, 0, 0, 500000, tzinfo=UTC)
EARLIER = LATER.replace(microsecond=0)  # a whole second: stored without a fraction


async def last_use(key: ApiKey) -> tuple[datetime | None, str | None]:
    row = await ApiKey.get(id=key.id)
    return row.last_used_at, row.last_used_ip


async def test_the_writer_is_the_one_serving_this_database(rt: Runtime, backend: str) -> None:
    writer = rt.usage_writer.writer
    assert isinstance(writer, SqliteBatchWriter) if backend == "sqlite" else writer is write_batch


async def test_an_earlier_use_committed_later_does_not_move_last_used_back(rt: Runtime) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    await record(rt, entry(key, LATER, client_ip="203.0.113.2"))
    await record(rt, entry(key, EARLIER, client_ip="203.0.113.1"))
    assert await last_use(key) == (LATER, "203.0.113.2")


async def test_a_later_use_moves_last_used_forward(rt: Runtime) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    await record(rt, entry(key, EARLIER, client_ip="203.0.113.1"))
    assert await last_use(key) == (EARLIER, "203.0.113.1")
    await record(rt, entry(key, LATER, client_ip="203.0.113.2"))
    assert await last_use(key) == (LATER, "203.0.113.2")
    much_later = LATER + timedelta(days=1)
    await record(rt, entry(key, much_later, client_ip="198.51.100.9"))
    assert await last_use(key) == (much_later, "198.51.100.9")
