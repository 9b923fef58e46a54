"""The group-commit usage writer, with a recording batch writer standing in for SQL.

The database path itself is exercised on SQLite and PostgreSQL by tests/api/test_verify.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from gql_keys.broker.memory import InProcessBroker
from gql_keys.domain_errors import ServiceUnavailable
from gql_keys.metrics import Metrics
from gql_keys.repositories.usage_writes import LastUse, RollupDelta
from gql_keys.usage.writer import UsageEntry, UsageWriter, rollups_for

AT = datetime(2026, 11, 25, 12, 34, 56, 789000, tzinfo=UTC)


def entry(allowed: bool = True, key_id: int | None = 1) -> UsageEntry:
    return UsageEntry(
        key_id,
        7,
        "gqk_x",
        AT,
        allowed,
        "VALID" if allowed else "KEY_NOT_FOUND",
        "203.0.113.1",
        "GET",
        "/p",
        "SPOT_READ",
    )


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[int] = []
        self.fail = fail
        self.next_id = 1

    async def __call__(
        self,
        connection_name: str,
        rows: list[tuple[object, ...]],
        rollups: list[RollupDelta],
        last_uses: list[LastUse],
    ) -> list[int]:
        await asyncio.sleep(0.001)
        if self.fail:
            raise RuntimeError("disk full")
        self.batches.append(len(rows))
        ids = list(range(self.next_id, self.next_id + len(rows)))
        self.next_id += len(rows)
        return ids


async def test_concurrent_rows_share_one_commit_and_get_their_own_ids() -> None:
    recorder = Recorder()
    writer = UsageWriter("x", InProcessBroker(), Metrics(), writer=recorder)
    await writer.start()
    ids = await asyncio.gather(*(writer.record(entry()) for _ in range(50)))
    await writer.close()
    assert sorted(ids) == list(range(1, 51))
    assert len(recorder.batches) <= 2
    assert sum(recorder.batches) == 50


async def test_batches_are_capped_at_max_rows() -> None:
    recorder = Recorder()
    writer = UsageWriter("x", InProcessBroker(), Metrics(), max_rows=10, writer=recorder)
    await writer.start()
    await asyncio.gather(*(writer.record(entry()) for _ in range(35)))
    await writer.close()
    assert max(recorder.batches) <= 10


async def test_a_failed_commit_fails_every_waiter() -> None:
    metrics = Metrics()
    writer = UsageWriter("x", InProcessBroker(), metrics, writer=Recorder(fail=True))
    await writer.start()
    results = await asyncio.gather(
        *(writer.record(entry()) for _ in range(5)), return_exceptions=True
    )
    await writer.close()
    assert all(isinstance(r, ServiceUnavailable) for r in results)
    assert metrics.value("gql_keys_usage_log_write_failures_total") >= 1


async def test_a_closed_writer_refuses_rows() -> None:
    writer = UsageWriter("x", InProcessBroker(), Metrics(), writer=Recorder())
    with pytest.raises(ServiceUnavailable):
        await writer.record(entry())


def test_rollups_count_each_bucket_and_skip_unknown_keys() -> None:
    deltas = rollups_for([entry(), entry(False), entry(key_id=None)])
    assert {(d.bucket, d.bucket_start.isoformat(), d.allowed, d.denied) for d in deltas} == {
        ("MINUTE", "2026-11-25T12:34:00+00:00", 1, 1),
        ("HOUR", "2026-11-25T12:00:00+00:00", 1, 1),
        ("DAY", "2026-11-25T00:00:00+00:00", 1, 1),
    }
