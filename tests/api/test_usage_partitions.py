"""Usage logs on PostgreSQL: a partition per day, no row lost without one, old days dropped
whole; the monitor's kept counts equal real counts on both databases."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gql_keys.models import UsageLog, UsageTotal
from gql_keys.repositories import usage as repo
from gql_keys.repositories import usage_partitions as partitions
from gql_keys.runtime import Runtime
from gql_keys.services import usage as svc
from gql_keys.services import usage_partitions as sweeps
from gql_keys.services.usage import LogFilter, LogScope
from harness.graphql import gql
from harness.keys import create_active_key, create_user, monitor_token
from tests.api.usage_support import entry, record

postgres_only = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

COUNT = "query ($filter: UsageLogFilter) { usageLogs(filter: $filter, first: 1) { totalCount } }"


def midnight(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


@postgres_only
async def test_migrate_makes_partitions_for_the_days_ahead(rt: Runtime) -> None:
    assert await partitions.is_partitioned()
    today = datetime.now(UTC).date()
    days = await partitions.partition_days()
    for ahead in range(rt.settings.usage_partition_ahead_days + 1):
        assert today + timedelta(days=ahead) in days


@postgres_only
async def test_a_row_of_a_day_without_partition_is_kept_and_later_moved_to_its_own(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    day = midnight(datetime.now(UTC)) - timedelta(days=400)
    assert day.date() not in await partitions.partition_days()
    ids = await record(rt, entry(key, day + timedelta(hours=3)), entry(key, day))
    assert await partitions.default_rows() == 2

    made = await partitions.ensure_days(day.date(), day.date())
    try:
        assert made == [day.date()]
        assert await partitions.default_rows() == 0
        rows = await UsageLog.filter(id__in=ids).order_by("id")
        assert [r.id for r in rows] == ids
        assert [r.occurred_at for r in rows] == [day + timedelta(hours=3), day]
        assert await partitions.ensure_days(day.date(), day.date()) == []
    finally:
        await partitions.drop_days_before(day + timedelta(days=1))


@postgres_only
async def test_prune_drops_whole_days_and_deletes_the_rest_in_batches(rt: Runtime) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    now = datetime.now(UTC)
    old_day = midnight(now) - timedelta(days=300)
    await partitions.ensure_days(old_day.date(), (old_day + timedelta(days=1)).date())
    whole = [entry(key, old_day + timedelta(hours=h)) for h in range(5)]
    partial = [entry(key, old_day + timedelta(days=1, hours=h)) for h in (1, 20)]
    stray = [entry(None, old_day - timedelta(days=30))]  # DEFAULT partition
    recent = [entry(key, now - timedelta(minutes=1))]
    await record(rt, *whole, *partial, *stray, *recent)

    cutoff_age = now - (old_day + timedelta(days=1, hours=12))
    deleted = await svc.prune_logs(now, cutoff_age, batch_size=1)

    assert deleted == 5 + 1 + 1
    days = await partitions.partition_days()
    assert old_day.date() not in days
    assert (old_day + timedelta(days=1)).date() in days
    assert await UsageLog.all().count() == 2
    assert await svc.count_logs(LogScope(), LogFilter()) == 2
    assert await repo.count_logs(LogScope(), LogFilter()) == 2
    await partitions.drop_days_before(old_day + timedelta(days=2))


async def test_monitor_counts_from_kept_totals_equal_real_counts(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    now = datetime.now(UTC)
    today = midnight(now)
    await record(
        rt,
        *(entry(key, today - timedelta(days=d, hours=1)) for d in range(4)),
        *(
            entry(key, today - timedelta(days=d), allowed=False, code="RATE_LIMITED")
            for d in (0, 2)
        ),
        entry(None, now - timedelta(seconds=5), allowed=False, code="KEY_NOT_FOUND"),
    )
    assert await UsageTotal.all().count() > 0
    filters = [
        LogFilter(),
        LogFilter(allowed=True),
        LogFilter(allowed=False),
        LogFilter(since=today - timedelta(days=2)),
        LogFilter(since=today - timedelta(days=3), until=today, allowed=False),
        LogFilter(since=now - timedelta(days=2)),  # not midnight: counted
        LogFilter(codes=("RATE_LIMITED",)),  # not kept: counted
        LogFilter(api_key_id=key.id),
    ]
    for flt in filters:
        assert await svc.count_logs(LogScope(), flt) == await repo.count_logs(LogScope(), flt)
    assert await svc.count_logs(LogScope(), LogFilter()) == 7

    monitor = await monitor_token()
    body = await gql(client, COUNT, {}, token=monitor)
    assert body["data"]["usageLogs"]["totalCount"] == 7
    since = (today - timedelta(days=1)).isoformat()
    body = await gql(client, COUNT, {"filter": {"since": since, "allowed": False}}, token=monitor)
    assert body["data"]["usageLogs"]["totalCount"] == 2

    deleted = await svc.prune_logs(now, now - (today - timedelta(days=1)), batch_size=2)
    assert deleted == 4
    for flt in filters:
        assert await svc.count_logs(LogScope(), flt) == await repo.count_logs(LogScope(), flt)


@postgres_only
async def test_the_workers_sweep_makes_a_missing_day_ahead(rt: Runtime) -> None:
    ahead = datetime.now(UTC).date() + timedelta(days=rt.settings.usage_partition_ahead_days)
    name = partitions.partition_name(ahead)
    await UsageLog._meta.db.execute_script(
        f"ALTER TABLE usage_logs DETACH PARTITION {name}; DROP TABLE {name}"
    )
    assert ahead not in await partitions.partition_days()
    sweep = asyncio.create_task(sweeps.run(rt))
    try:
        for _ in range(100):
            if ahead in await partitions.partition_days():
                break
            await asyncio.sleep(0.1)
        assert ahead in await partitions.partition_days()
    finally:
        sweep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweep


async def test_pages_newest_first_cross_days_weeks_and_the_future_without_a_gap(
    rt: Runtime,
) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    now = datetime.now(UTC).replace(microsecond=0)
    ages = [timedelta(hours=-2), timedelta(0), timedelta(hours=5)]  # a clock ahead, today
    ages += [timedelta(days=3, minutes=m) for m in range(4)]  # this week, not today
    ages += [timedelta(days=20, minutes=m) for m in range(5)]  # weeks ago
    ages += [timedelta(days=3)]  # a tie on time, broken by id
    ids = await record(rt, *(entry(key, now - age) for age in ages))
    expected = [i for _, i in sorted(zip(ages, ids, strict=True), key=lambda p: (p[0], -p[1]))]
    scope = LogScope(user_id=user.id)

    for limit in (1, 2, 5, 20):
        seen: list[int] = []
        after: tuple[datetime, int] | None = None
        while True:
            page = await svc.page_logs(scope, LogFilter(), limit, after)
            seen += [row.id for row in page.rows]
            if not page.has_next_page:
                break
            after = (page.rows[-1].occurred_at, page.rows[-1].id)
        assert seen == expected, limit
    one_key = LogFilter(api_key_id=key.id, since=now - timedelta(days=30))
    assert [r.id for r in (await svc.page_logs(scope, one_key, 20, None)).rows] == expected


async def test_a_page_of_a_past_window_starts_at_its_end(rt: Runtime) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    now = datetime.now(UTC).replace(microsecond=0)
    ids = await record(rt, *(entry(key, now - timedelta(days=d)) for d in (1, 10, 11, 12, 30)))
    scope = LogScope(user_id=user.id)
    past = LogFilter(until=now - timedelta(days=9))
    page = await svc.page_logs(scope, past, 2, None)
    assert [r.id for r in page.rows] == ids[1:3]
    assert page.has_next_page
    after = (page.rows[-1].occurred_at, page.rows[-1].id)
    rest = await svc.page_logs(scope, past, 2, after)
    assert [r.id for r in rest.rows] == ids[3:5]
    assert not rest.has_next_page
