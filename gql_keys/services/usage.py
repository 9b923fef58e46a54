"""Usage logs and usage statistics: who may read which rows, pages, buckets, retention."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from gql_keys.clock import as_utc
from gql_keys.domain_errors import DomainError, ErrorCode, Forbidden, Unauthenticated
from gql_keys.principals import (
    ApiKeyPrincipal,
    Principal,
    ServicePrincipal,
    ServiceRole,
    UserPrincipal,
)
from gql_keys.repositories import usage as repo
from gql_keys.repositories import usage_partitions as partitions
from gql_keys.repositories.usage import LogFilter, LogRow, LogScope
from gql_keys.services.pruning import prune_in_batches

__all__ = [
    "Bucket",
    "BucketSize",
    "LogFilter",
    "LogPage",
    "LogRow",
    "LogScope",
    "bucket_floor",
    "count_logs",
    "log_scope",
    "page_logs",
    "parse_age",
    "prune_logs",
    "usage_buckets",
]


class BucketSize(StrEnum):
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"


BUCKET_SECONDS = {BucketSize.MINUTE: 60, BucketSize.HOUR: 3600, BucketSize.DAY: 86400}
# A usage window spans at most this many buckets (7 days of minutes, 416 days of hours).
MAX_BUCKETS = 10_080


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    allowed: int
    denied: int


@dataclass(frozen=True, slots=True)
class LogPage:
    rows: list[LogRow]
    has_next_page: bool


def log_scope(principal: Principal | None) -> LogScope:
    """The rows ``principal`` may read; a verifier (or nobody) may read none."""
    if principal is None:
        raise Unauthenticated()
    if isinstance(principal, UserPrincipal):
        return LogScope(user_id=principal.user_id)
    if isinstance(principal, ApiKeyPrincipal):
        return LogScope(api_key_id=principal.api_key_id)
    if isinstance(principal, ServicePrincipal) and principal.role == ServiceRole.MONITOR:
        return LogScope()
    raise Forbidden("Only a user, an API key or a monitor service token may read usage logs.")


async def page_logs(
    scope: LogScope, flt: LogFilter, limit: int, after: tuple[datetime, int] | None
) -> LogPage:
    """One page newest first (``limit`` rows and whether more follow)."""
    if flt.since is not None and flt.until is not None and as_utc(flt.since) >= as_utc(flt.until):
        raise DomainError(
            ErrorCode.INVALID_INPUT, "since must be before until.", ("filter", "since")
        )
    rows = await repo.page_logs(scope, flt, limit + 1, after)
    return LogPage(rows=rows[:limit], has_next_page=len(rows) > limit)


def _midnight(moment: datetime | None) -> bool:
    return moment is None or bucket_floor(moment, BucketSize.DAY) == as_utc(moment)


def _kept_counts_answer(scope: LogScope, flt: LogFilter) -> bool:
    """Whether the day totals give this count: every row (a monitor), at most an
    ``allowed`` condition and whole UTC days."""
    return (
        scope == LogScope()
        and flt == LogFilter(allowed=flt.allowed, since=flt.since, until=flt.until)
        and _midnight(flt.since)
        and _midnight(flt.until)
    )


async def count_logs(scope: LogScope, flt: LogFilter) -> int:
    """Every row matching the filter: from the kept day totals when they can answer
    (a monitor's unfiltered count over millions of rows), else counted (an index-only
    scan per key for users)."""
    if _kept_counts_answer(scope, flt):
        return await repo.count_kept(flt.since, flt.until, flt.allowed)
    return await repo.count_logs(scope, flt)


async def log_by_id(principal: Principal | None, log_id: int) -> LogRow | None:
    """One row the principal may read; None for a row outside its scope (or no scope)."""
    try:
        scope = log_scope(principal)
    except (Unauthenticated, Forbidden):
        return None
    return await repo.log_by_id(scope, log_id)


def bucket_floor(moment: datetime, size: BucketSize) -> datetime:
    step = BUCKET_SECONDS[size]
    seconds = int(as_utc(moment).timestamp())
    return datetime.fromtimestamp(seconds - seconds % step, UTC)


def check_usage_window(
    since: datetime, until: datetime | None, size: BucketSize, now: datetime
) -> None:
    """Refuse an empty window, or one of more than ``MAX_BUCKETS`` buckets."""
    end = as_utc(until) if until is not None else now
    if until is not None and end <= as_utc(since):
        raise DomainError(ErrorCode.INVALID_INPUT, "until must be after since.", ("until",))
    if (end - as_utc(since)).total_seconds() > MAX_BUCKETS * BUCKET_SECONDS[size]:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"A usage window spans at most {MAX_BUCKETS} {size.value} buckets.",
            ("since",),
        )


async def usage_buckets(
    api_key_ids: Sequence[int],
    since: datetime,
    until: datetime | None,
    size: BucketSize,
) -> dict[int, list[Bucket]]:
    """Counts per bucket for each key, from rollup rows only (empty buckets omitted).

    The bucket holding ``since`` is included whole; buckets start before ``until``.
    """
    start = bucket_floor(since, size)
    rows = await repo.rollups(api_key_ids, size.value, start, as_utc(until) if until else None)
    result: dict[int, list[Bucket]] = {pk: [] for pk in api_key_ids}
    for row in rows:
        if row.allowed or row.denied:
            result.setdefault(row.api_key_id, []).append(
                Bucket(start=as_utc(row.bucket_start), allowed=row.allowed, denied=row.denied)
            )
    return result


_AGE = re.compile(r"^\s*(\d+)\s*([dhms])\s*$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_age(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m`` or ``45s`` as a positive duration."""
    match = _AGE.match(text.lower())
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"not a duration like 90d, 12h or 30m: {text!r}")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


async def prune_logs(
    now: datetime,
    older_than: timedelta,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Delete raw usage rows older than ``older_than``; rollups stay.

    On PostgreSQL the whole days past retention go first, each by dropping its partition;
    what is left (part of a day, rows in the DEFAULT partition, SQLite) goes batch by batch.

    ``progress(deleted_so_far, total)`` is called after each batch. Returns the count.
    """
    cutoff = now - older_than
    dropped = sum(d.rows for d in await partitions.drop_days_before(cutoff))

    def shifted(done: int, total: int) -> None:
        if progress is not None:
            progress(dropped + done, dropped + total)

    return dropped + await prune_in_batches(
        cutoff, repo.count_older_than, repo.delete_batch_older_than, batch_size, shifted
    )
