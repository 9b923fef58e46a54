"""The process's Prometheus metrics, kept by ``prometheus_client``.

Each :class:`Metrics` has its own registry, so apps built side by side (tests) count
apart. Under ``gql-keys serve --workers N`` the parent points ``PROMETHEUS_MULTIPROC_DIR``
at a fresh folder before any worker starts: every worker then writes its values to
files there and :meth:`Metrics.render` sums all workers, so whichever worker answers a
scrape reports the totals.

Counters and the verification latency histogram on the request path count into plain
numbers and reach ``prometheus_client`` on :meth:`Metrics.flush`: before every scrape,
and every second while several workers share the folder (an increment of
``prometheus_client`` takes a lock, and a multi-process one writes to a memory-mapped
file, several times the cost of the addition itself).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

# `*_created` timestamps per series would double what a scrape carries, for nothing we use.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated upstream


def multiprocess_dir() -> str | None:
    """The folder shared by the workers of one ``serve``, when there are several."""
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None


FLUSH_SECONDS = 1.0


class BufferedCounter:
    """A counter whose increments are plain integer additions until :meth:`flush`."""

    __slots__ = ("_counter", "_pending")

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._pending = 0

    def inc(self, amount: int = 1) -> None:
        self._pending += amount

    def flush(self) -> None:
        pending, self._pending = self._pending, 0
        if pending:
            self._counter.inc(pending)


class LabelledCounter:
    """A counter with one label, buffered like :class:`BufferedCounter`."""

    __slots__ = ("_children", "_counter", "_pending")

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._children: dict[str, Counter] = {}
        self._pending: dict[str, int] = {}

    def inc(self, label_value: str) -> None:
        pending = self._pending
        pending[label_value] = pending.get(label_value, 0) + 1

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for label_value, amount in pending.items():
            child = self._children.get(label_value)
            if child is None:
                child = self._children[label_value] = self._counter.labels(label_value)
            child.inc(amount)


class BufferedHistogram:
    """A histogram whose observations are a bucket search and two additions until
    :meth:`flush` adds them to ``prometheus_client``'s bucket and sum values (its own
    ``observe`` locks the sum and one bucket for every observation)."""

    __slots__ = ("_bounds", "_counts", "_histogram", "_sum")

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        # prometheus_client's upper bounds, +Inf last: ``observe`` counts a value in the
        # first bucket whose bound it does not exceed, as bisect_left finds it.
        self._bounds: list[float] = list(histogram._upper_bounds)
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0

    def observe(self, amount: float) -> None:
        self._counts[bisect.bisect_left(self._bounds, amount)] += 1
        self._sum += amount

    def flush(self) -> None:
        counts, self._counts = self._counts, [0] * len(self._bounds)
        amount, self._sum = self._sum, 0.0
        if not any(counts):
            return
        histogram = self._histogram
        histogram._sum.inc(amount)
        for bucket, count in zip(histogram._buckets, counts, strict=True):
            if count:
                bucket.inc(count)


class Metrics:
    """Every metric of the process; names are part of what dashboards and alerts read."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self._buffered: list[BufferedCounter | LabelledCounter | BufferedHistogram] = []
        self.verifications = self._labelled(
            "gql_keys_verifications_total", "Verification decisions by code.", "code"
        )
        self.verification_seconds = BufferedHistogram(
            Histogram(
                "gql_keys_verification_seconds",
                "Time to decide and durably log one verification.",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            )
        )
        self._buffered.append(self.verification_seconds)
        self.partner_requests = self._labelled(
            "gql_keys_partner_requests_total",
            "Signed partner requests on /graphql by code.",
            "code",
        )
        self.authz_answers = self._labelled(
            "gql_keys_authz_answers_total",
            "Forward-auth answers on /authz by Gate error label (OK when allowed).",
            "label",
        )
        self.replay_cache_full = self._counter(
            "gql_keys_replay_cache_full_total",
            "State-changing requests refused because the in-memory replay cache held "
            "only live fingerprints.",
        )
        self.replay_share_full = self._counter(
            "gql_keys_replay_share_full_total",
            "State-changing requests answered RATE_LIMITED because their key held its "
            "share of live replay fingerprints (replay_max_live_per_key).",
        )
        self.unsigned_failures_throttled = self._counter(
            "gql_keys_unsigned_failures_throttled_total",
            "Failures before a valid signature answered RATE_LIMITED by the per-address "
            "throttle (unsigned_failures_per_minute).",
        )
        self.usage_batch_rows = Histogram(
            "gql_keys_usage_log_batch_rows",
            "Usage-log rows per group commit.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.usage_flush_seconds = Histogram(
            "gql_keys_usage_log_flush_seconds",
            "Time to write one usage-log batch.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.usage_queue_depth = Gauge(
            "gql_keys_usage_log_queue_depth",
            "Usage-log rows waiting to be written, as of the latest batch.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.usage_write_failures = self._counter(
            "gql_keys_usage_log_write_failures_total", "Usage-log batches that failed to commit."
        )
        self.key_cache_hits = self._counter(
            "gql_keys_key_cache_hits_total", "Key lookups from memory."
        )
        self.key_cache_misses = self._counter(
            "gql_keys_key_cache_misses_total", "Key lookups that read the database."
        )
        self.limiter_errors = self._labelled(
            "gql_keys_limiter_errors_total",
            "Rate-limiter or replay-cache store errors, by operation.",
            "operation",
        )
        self.limiter_fallbacks = self._labelled(
            "gql_keys_limiter_fallbacks_total",
            "Decisions taken by the local fallback while the shared store was unavailable.",
            "operation",
        )
        self._flusher: asyncio.Task[None] | None = None

    def _counter(self, name: str, documentation: str) -> BufferedCounter:
        """A buffered counter, registered and flushed with the others."""
        counter = BufferedCounter(Counter(name, documentation, registry=self.registry))
        self._buffered.append(counter)
        return counter

    def _labelled(self, name: str, documentation: str, label: str) -> LabelledCounter:
        """A buffered counter with one label, registered and flushed with the others."""
        counter = LabelledCounter(Counter(name, documentation, [label], registry=self.registry))
        self._buffered.append(counter)
        return counter

    def flush(self) -> None:
        """Hand the counts buffered since the last flush to ``prometheus_client``."""
        for counter in self._buffered:
            counter.flush()

    async def start(self) -> None:
        """With workers sharing a folder, flush every second: a scrape answered by
        another worker reads this one's counts from there."""
        if multiprocess_dir() is not None and self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_periodically(), name="metrics")

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        self.flush()
        folder = multiprocess_dir()
        if folder is not None:
            # This worker's gauges leave the sums and minimums; its counters stay counted.
            mark_process_dead(os.getpid(), folder)  # type: ignore[no-untyped-call]

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()

    def track_redis(self) -> RedisMetrics:
        """Add the metrics of the Redis seams (only processes configured with Redis)."""
        return RedisMetrics(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """One sample of this process's registry (0 when it was never counted)."""
        self.flush()
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found

    def render(self) -> bytes:
        """The Prometheus text format: all workers' sum under ``serve --workers N``."""
        self.flush()
        folder = multiprocess_dir()
        if folder is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


class RedisMetrics:
    """Health of the Redis seams. Gauges take the minimum over running workers: one worker
    on its local fallback (or without its subscription) shows as 0."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.available = Gauge(
            "gql_keys_redis_available",
            "1 while Redis answers; 0 while a process runs on its local fallbacks.",
            multiprocess_mode="livemin",
            registry=registry,
        )
        self.available.set(1)
        self.outages = Counter(
            "gql_keys_redis_outages_total", "Times Redis became unreachable.", registry=registry
        )
        self.broker_connected = Gauge(
            "gql_keys_broker_connected",
            "1 while the Redis pub/sub subscription of every process is live.",
            multiprocess_mode="livemin",
            registry=registry,
        )
        self.publish_failures = Counter(
            "gql_keys_broker_publish_failures_total",
            "Activity events that could not be published to Redis (delivered locally).",
            registry=registry,
        )
        self.broker_reconnects = Counter(
            "gql_keys_broker_reconnects_total",
            "Times the Redis subscription was re-established after a loss.",
            registry=registry,
        )
