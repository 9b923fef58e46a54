"""Group commit for usage-log rows.

Each verification enqueues its row and waits; one flusher task takes everything queued
(up to ``usage_batch_max_rows``), writes it in ONE transaction together with the rollup
counters and last-use marks, then answers every waiter with its row id and publishes
the ``KEY_USED`` / ``KEY_DENIED`` events. While a batch is being written the next one
collects, so the commit rate adapts to load without a timer. When a batch fails, each of
its waiters gets :class:`~gql_keys.domain_errors.ServiceUnavailable`: no decision is ever
answered without its row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from gql_keys.broker.base import Broker
from gql_keys.broker.events import ActivityEvent, ActivityKind
from gql_keys.domain_errors import ServiceUnavailable
from gql_keys.metrics import Metrics
from gql_keys.repositories.usage_writes import (
    LastUse,
    RollupDelta,
    SqliteBatchWriter,
    utc_day,
    write_batch,
)
from gql_keys.settings import Settings

log = logging.getLogger("gql_keys.usage")

KEY_MAX = 128
IP_MAX = 45
METHOD_MAX = 16
PATH_MAX = 512


# Slots, not frozen: built on every verification, where a frozen dataclass pays an
# object.__setattr__ per field.
@dataclass(slots=True)
class UsageEntry:
    """One decision to record."""

    api_key_id: int | None
    owner_id: int | None
    key: str
    occurred_at: datetime
    allowed: bool
    code: str
    client_ip: str
    method: str
    path: str
    required_scope: str | None
    signed_with_previous_secret: bool = False
    sub_account_id: int | None = None  # for the event only: rows name the key

    def values(self) -> tuple[object, ...]:
        return (
            self.api_key_id,
            storable(self.key, KEY_MAX),
            self.occurred_at,
            self.allowed,
            self.code,
            storable(self.client_ip, IP_MAX),
            storable(self.method, METHOD_MAX),
            storable(self.path, PATH_MAX),
            self.required_scope,
            self.signed_with_previous_secret,
        )


def storable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters that every database accepts.

    Presented values are hostile input: a NUL or a lone surrogate would make PostgreSQL
    (or the UTF-8 encoder) reject the whole batch, failing every request in it.
    """
    text = text[:limit]
    if text.isascii():
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


class BatchWriter(Protocol):
    async def __call__(
        self,
        connection_name: str,
        rows: list[tuple[object, ...]],
        rollups: list[RollupDelta],
        last_uses: list[LastUse],
    ) -> list[int]: ...


def batch_writer_for(settings: Settings) -> BatchWriter:
    """A dedicated-thread writer for a SQLite file; the pooled connection otherwise."""
    url = settings.effective_database_url
    if settings.is_sqlite:
        path = url.split("://", 1)[1].split("?", 1)[0]
        if path and ":memory:" not in path:
            return SqliteBatchWriter(path)
    return write_batch


def bucket_starts(at: datetime) -> tuple[tuple[str, datetime], ...]:
    minute = at.replace(second=0, microsecond=0)
    return (
        ("MINUTE", minute),
        ("HOUR", minute.replace(minute=0)),
        ("DAY", minute.replace(hour=0, minute=0)),
    )


def rollups_for(entries: list[UsageEntry]) -> list[RollupDelta]:
    # Count per (key, minute) first: a batch spans few minutes, so few datetimes are built.
    per_minute: dict[tuple[int, int], list[int]] = {}
    for entry in entries:
        if entry.api_key_id is not None:
            at = entry.occurred_at
            if at.tzinfo is UTC:  # as verify() makes it; timestamp() costs 5x this
                minute = (utc_day(at) * 24 + at.hour) * 60 + at.minute
            else:
                minute = int(at.timestamp() // 60)
            count = per_minute.get((entry.api_key_id, minute))
            if count is None:
                count = per_minute[(entry.api_key_id, minute)] = [0, 0]
            count[0 if entry.allowed else 1] += 1
    counts: dict[tuple[int, str, datetime], list[int]] = defaultdict(lambda: [0, 0])
    for (key_id, minute), (allowed, denied) in per_minute.items():
        for bucket, start in bucket_starts(datetime.fromtimestamp(minute * 60, UTC)):
            total = counts[(key_id, bucket, start)]
            total[0] += allowed
            total[1] += denied
    return [
        RollupDelta(key_id, bucket, start, allowed, denied)
        for (key_id, bucket, start), (allowed, denied) in counts.items()
    ]


def last_uses_for(entries: list[UsageEntry]) -> list[LastUse]:
    latest: dict[int, UsageEntry] = {}
    for entry in entries:
        if not entry.allowed or entry.api_key_id is None:
            continue
        seen = latest.get(entry.api_key_id)
        if seen is None or entry.occurred_at >= seen.occurred_at:
            latest[entry.api_key_id] = entry
    return [LastUse(k, e.occurred_at, storable(e.client_ip, IP_MAX)) for k, e in latest.items()]


def event_for(entry: UsageEntry, row_id: int) -> ActivityEvent:
    return ActivityEvent(
        id=str(row_id),
        kind=ActivityKind.KEY_USED if entry.allowed else ActivityKind.KEY_DENIED,
        occurred_at=entry.occurred_at,
        owner_id=entry.owner_id,
        api_key_id=entry.api_key_id,
        key=storable(entry.key, KEY_MAX),
        code=entry.code,
        client_ip=storable(entry.client_ip, IP_MAX),
        method=storable(entry.method, METHOD_MAX),
        path=storable(entry.path, PATH_MAX),
        sub_account_id=entry.sub_account_id,
    )


class UsageWriter:
    def __init__(
        self,
        connection_name: str,
        broker: Broker,
        metrics: Metrics,
        max_rows: int = 500,
        writer: BatchWriter = write_batch,
    ) -> None:
        self.connection_name = connection_name
        self.broker = broker
        self.metrics = metrics
        self.max_rows = max(1, max_rows)
        self.writer = writer
        self._queue: list[tuple[UsageEntry, asyncio.Future[int]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._closing = False
        # Kept for record_nowait: asyncio.get_running_loop() makes a getpid system call
        # each time (CPython 3.11 checks for a fork), once per verification otherwise.
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="usage-log-writer")

    async def close(self) -> None:
        """Write whatever is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._queue:  # the flusher died: write the rest here
            await self._flush_all()
        close = getattr(self.writer, "close", None)
        if close is not None:
            await close()

    def record_nowait(self, entry: UsageEntry) -> asyncio.Future[int]:
        """Queue ``entry``; the future resolves to its row id once committed."""
        loop = self._loop if self._task is not None else None
        future: asyncio.Future[int] = (loop or asyncio.get_running_loop()).create_future()
        if self._task is None or self._closing:
            future.set_exception(ServiceUnavailable("The usage log is not accepting writes."))
            return future
        self._queue.append((entry, future))
        self._wake.set()
        return future

    async def record(self, entry: UsageEntry) -> int:
        return await self.record_nowait(entry)

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._flush_one()

    async def _flush_all(self) -> None:
        while self._queue:
            await self._flush_one()

    async def _flush_one(self) -> None:
        batch = self._queue[: self.max_rows]
        del self._queue[: self.max_rows]
        # Set once per batch, not per row: the last batch of a burst sets it back to 0.
        self.metrics.usage_queue_depth.set(len(self._queue))
        entries = [entry for entry, _ in batch]
        started = time.perf_counter()
        try:
            ids = await self._write(entries)
        except asyncio.CancelledError:
            self._fail(batch)
            raise
        except Exception:
            log.exception("usage-log batch of %d rows failed", len(batch))
            self.metrics.usage_write_failures.inc()
            self._fail(batch)
            return
        self.metrics.usage_batch_rows.observe(len(batch))
        self.metrics.usage_flush_seconds.observe(time.perf_counter() - started)
        for (_, future), row_id in zip(batch, ids, strict=True):
            if not future.done():
                future.set_result(row_id)
        if not self.broker.has_audience():
            return
        try:
            await self.broker.publish([event_for(e, i) for e, i in zip(entries, ids, strict=True)])
        except Exception:
            log.exception("publishing %d usage events failed", len(batch))

    async def _write(self, entries: list[UsageEntry]) -> list[int]:
        rows, rollups, last_uses = (
            [e.values() for e in entries],
            rollups_for(entries),
            last_uses_for(entries),
        )
        for attempt in (1, 2):
            try:
                write = self.writer(self.connection_name, rows, rollups, last_uses)
                if not getattr(self.writer, "uses_tortoise", True):
                    # Awaited in place: a task of its own would cost the batch (and every
                    # request waiting on it) one more turn of the busy event loop.
                    return await write
                # A task of its own per batch: after a failed release Tortoise can leave
                # a dead connection in the calling task's context, which would poison
                # every later batch of this long-lived flusher.
                return await asyncio.create_task(write)
            except Exception as exc:
                if attempt == 1 and _is_deadlock(exc):
                    log.warning("usage-log batch hit a deadlock; retrying once")
                    continue
                raise
        raise AssertionError("unreachable")

    @staticmethod
    def _fail(batch: list[tuple[UsageEntry, asyncio.Future[int]]]) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(ServiceUnavailable("The usage log cannot be written now."))
                future.exception()  # retrieved: a cancelled waiter must not warn


def _is_deadlock(exc: BaseException) -> bool:
    """PostgreSQL aborted the batch to break a deadlock (however the driver wraps it)."""
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__name__ == "DeadlockDetectedError" or "deadlock detected" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
