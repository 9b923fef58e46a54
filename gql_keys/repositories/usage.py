"""Reading usage logs and rollups, and pruning old raw rows (the writer lives in usage/)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from gql_keys.clock import as_utc
from gql_keys.models import UsageLog, UsageRollup, UsageTotal
from gql_keys.repositories.sql import SqlParams, datetime_reader
from gql_keys.repositories.usage_writes import DAY_SECONDS, add_totals


@dataclass(frozen=True, slots=True)
class LogScope:
    """Which rows a caller may read at all: access control is part of every query.

    ``user_id`` restricts to rows of that user's keys; ``api_key_id`` to one key's rows;
    both None (a monitor) means every row, including rows of unknown keys.
    """

    user_id: int | None = None
    api_key_id: int | None = None


@dataclass(frozen=True, slots=True)
class LogFilter:
    api_key_id: int | None = None
    sub_account_id: int | None = None
    codes: tuple[str, ...] | None = None
    allowed: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    client_ip: str | None = None
    signed_with_previous_secret: bool | None = None


@dataclass(frozen=True, slots=True)
class LogRow:
    """One usage-log row as pages read it (plain values, no model)."""

    id: int
    key: str
    occurred_at: datetime
    allowed: bool
    code: str
    client_ip: str
    method: str
    path: str
    required_scope: str | None
    signed_with_previous_secret: bool
    api_key_id: int | None


_ROW_COLUMNS = (
    "id, key, occurred_at, allowed, code, client_ip, method, path, required_scope, "
    "signed_with_previous_secret, api_key_id"
)


def _where(
    scope: LogScope,
    flt: LogFilter,
    after: tuple[datetime, int] | None,
    params: SqlParams,
    page: bool,
) -> str:
    """The SQL condition for the rows ``scope`` may read that match ``flt`` (and come
    after the keyset ``after``), its values added to ``params``.

    A user's rows are those of their keys. For a newest-first page over all of them on
    PostgreSQL the key ids are taken first, once (``= ANY(ARRAY(...))``, an init plan),
    so that the walk of the partitions filters on them directly instead of joining each
    row to ``api_keys``: a user's first page took 4.0 ms with the semi-join and 2.4 ms
    with the ids (1M rows, 39 partitions). A count, or a page of one key, walks one index
    per key either way and keeps the semi-join.
    """
    add = params.add
    conditions: list[str] = []
    if scope.api_key_id is not None:
        conditions.append(f"api_key_id = {add(scope.api_key_id)}")
    if scope.user_id is not None:
        owned = f"SELECT id FROM api_keys WHERE user_id = {add(scope.user_id)}"
        if page and params.postgres and flt.api_key_id is None:
            conditions.append(f"api_key_id = ANY(ARRAY({owned}))")
        else:
            conditions.append(f"api_key_id IN ({owned})")
    if flt.api_key_id is not None:
        conditions.append(f"api_key_id = {add(flt.api_key_id)}")
    if flt.sub_account_id is not None:
        conditions.append(
            f"api_key_id IN (SELECT id FROM api_keys WHERE sub_account_id = "
            f"{add(flt.sub_account_id)})"
        )
    if flt.codes is not None:
        codes = ", ".join(add(code) for code in flt.codes)
        conditions.append(f"code IN ({codes})" if codes else "1 = 0")
    if flt.allowed is not None:
        conditions.append(f"allowed = {add(flt.allowed)}")
    if flt.since is not None:
        conditions.append(f"occurred_at >= {add(as_utc(flt.since))}")
    if flt.until is not None:
        conditions.append(f"occurred_at < {add(as_utc(flt.until))}")
    if flt.client_ip is not None:
        conditions.append(f"client_ip = {add(flt.client_ip)}")
    if flt.signed_with_previous_secret is not None:
        conditions.append(f"signed_with_previous_secret = {add(flt.signed_with_previous_secret)}")
    if after is not None:
        at, pk = as_utc(after[0]), after[1]
        conditions.append(
            f"(occurred_at < {add(at)} OR (occurred_at = {add(at)} AND id < {add(pk)}))"
        )
    return " AND ".join(conditions) if conditions else "1 = 1"


def _log_rows(rows: Sequence[Any]) -> list[LogRow]:
    """Rows in :data:`_ROW_COLUMNS` order; SQLite hands out times as text, flags as 0/1."""
    as_time = datetime_reader(UsageLog, "occurred_at")
    return [
        LogRow(
            id=row[0],
            key=row[1],
            occurred_at=as_time(row[2]),
            allowed=bool(row[3]),
            code=row[4],
            client_ip=row[5],
            method=row[6],
            path=row[7],
            required_scope=row[8],
            signed_with_previous_secret=bool(row[9]),
            api_key_id=row[10],
        )
        for row in rows
    ]


def _connection() -> BaseDBAsyncClient:
    return UsageLog._meta.db


# A newest-first page over day partitions: PostgreSQL's Merge Append reads the newest row
# of every partition the query may touch (~35 for 30 days, 2-3 ms at 10M rows) before it
# returns one. A page that fills from the last day (else week) of rows is exactly the
# page of the whole table, since every row outside the window sorts after it; only a
# page that does not fill is read again over a wider window, and at last over all rows.
PAGE_WINDOWS = (timedelta(days=1), timedelta(days=7))


async def page_logs(
    scope: LogScope,
    flt: LogFilter,
    limit: int,
    after: tuple[datetime, int] | None,
) -> list[LogRow]:
    """Up to ``limit`` rows, newest first, strictly after the keyset ``after``.

    One SQL statement (per window, see :data:`PAGE_WINDOWS`) and plain rows: a page is
    100 rows, and building a model per row (and the statement through the query
    builder) was a large part of reading it."""
    db = _connection()
    if db.capabilities.dialect == "postgres":
        # Where the newest rows are: only a hint, the result never depends on it.
        newest = as_utc(after[0]) if after is not None else datetime.now(UTC)
        if flt.until is not None:
            newest = min(newest, as_utc(flt.until))
        for window in PAGE_WINDOWS:
            start = newest - window
            if flt.since is not None and as_utc(flt.since) >= start:
                break  # the filter's own bound is narrower
            rows = await _page(db, scope, flt, limit, after, start)
            if len(rows) >= limit:
                return rows
    return await _page(db, scope, flt, limit, after, None)


async def _page(
    db: BaseDBAsyncClient,
    scope: LogScope,
    flt: LogFilter,
    limit: int,
    after: tuple[datetime, int] | None,
    start: datetime | None,
) -> list[LogRow]:
    """:func:`page_logs`' statement, over the rows from ``start`` on when given."""
    params = SqlParams.for_connection(db)
    where = _where(scope, flt, after, params, page=True)
    if start is not None:
        where += f" AND occurred_at >= {params.add(start)}"
    sql = (
        f"SELECT {_ROW_COLUMNS} FROM usage_logs WHERE {where} "
        f"ORDER BY occurred_at DESC, id DESC LIMIT {params.add(limit)}"
    )
    _, rows = await db.execute_query(sql, params.values)
    return _log_rows(rows)


async def count_logs(scope: LogScope, flt: LogFilter) -> int:
    db = _connection()
    params = SqlParams.for_connection(db)
    where = _where(scope, flt, None, params, page=False)
    _, rows = await db.execute_query(
        f"SELECT count(*) FROM usage_logs WHERE {where}", params.values
    )
    return int(rows[0][0])


async def count_kept(since: datetime | None, until: datetime | None, allowed: bool | None) -> int:
    """Every row of the days in [since, until) from the kept day totals (no row is read).

    ``since`` and ``until`` must fall on UTC midnights for this to be the exact count.
    """
    condition = Q()
    if since is not None:
        condition &= Q(day__gte=since)
    if until is not None:
        condition &= Q(day__lt=until)
    sums = (
        await UsageTotal.filter(condition)
        .annotate(a=Sum("allowed"), d=Sum("denied"))
        .values("a", "d")
    )
    allowed_rows = int(sums[0]["a"] or 0) if sums else 0
    denied_rows = int(sums[0]["d"] or 0) if sums else 0
    if allowed is None:
        return allowed_rows + denied_rows
    return allowed_rows if allowed else denied_rows


async def log_by_id(scope: LogScope, pk: int) -> LogRow | None:
    db = _connection()
    params = SqlParams.for_connection(db)
    where = _where(scope, LogFilter(), None, params, page=False)
    sql = f"SELECT {_ROW_COLUMNS} FROM usage_logs WHERE {where} AND id = {params.add(pk)}"
    _, rows = await db.execute_query(sql, params.values)
    found = _log_rows(rows)
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class RollupRow:
    api_key_id: int
    bucket_start: datetime
    allowed: int
    denied: int


async def rollups(
    api_key_ids: Sequence[int], bucket: str, since: datetime, until: datetime | None
) -> list[RollupRow]:
    """Rollup rows of ``bucket`` size starting in [since, until), ordered per key by time.

    Raw SQL and plain rows: a 30-day HOUR window is up to 720 rows per key, and building
    (then converting) a model per row took about three quarters of the time of the read.
    """
    if not api_key_ids:
        return []
    db = _connection()
    params = SqlParams.for_connection(db)
    keys = ", ".join(params.add(pk) for pk in api_key_ids)
    sql = (
        "SELECT api_key_id, bucket_start, allowed, denied FROM usage_rollups "
        f"WHERE api_key_id IN ({keys}) AND bucket = {params.add(bucket)} "
        f"AND bucket_start >= {params.add(since)}"
    )
    if until is not None:
        sql += f" AND bucket_start < {params.add(until)}"
    sql += " ORDER BY api_key_id, bucket_start"
    _, rows = await db.execute_query(sql, params.values)
    as_time = datetime_reader(UsageRollup, "bucket_start")
    return [
        RollupRow(
            api_key_id=int(row[0]),
            bucket_start=as_time(row[1]),
            allowed=int(row[2]),
            denied=int(row[3]),
        )
        for row in rows
    ]


async def count_older_than(cutoff: datetime) -> int:
    return await UsageLog.filter(occurred_at__lt=cutoff).count()


async def delete_batch_older_than(cutoff: datetime, batch_size: int) -> int:
    """Delete up to ``batch_size`` of the oldest raw rows before ``cutoff``; rollups stay."""
    ids = await (
        UsageLog.filter(occurred_at__lt=cutoff)
        .order_by("occurred_at", "id")
        .limit(batch_size)
        .values_list("id", flat=True)
    )
    if not ids:
        return 0
    async with in_transaction(UsageLog._meta.default_connection) as conn:
        doomed = UsageLog.filter(id__in=list(ids))
        removed: dict[int, list[int]] = {}
        for at, allowed in await doomed.values_list("occurred_at", "allowed"):
            counts = removed.setdefault(int(at.timestamp()) // DAY_SECONDS, [0, 0])
            counts[0 if allowed else 1] -= 1
        deleted = await doomed.delete()
        subtract = add_totals(removed, conn.capabilities.dialect == "postgres", shard=0)
        if subtract is not None:
            await conn.execute_query(subtract.sql, subtract.params)
    return deleted
