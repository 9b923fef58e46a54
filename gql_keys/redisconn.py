"""The process's Redis client and the breaker that decides when to fall back without it.

Every Redis seam (broker, rate limiter, replay cache, key invalidation) shares one client
(one connection pool) and one :class:`RedisAvailability`. When a call fails, Redis is
skipped for ``GQL_KEYS_REDIS_RETRY_SECONDS`` so a dead server costs one timeout, not one
per request; the first call after that tries it again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gql_keys.metrics import Counter as MetricCounter
from gql_keys.metrics import Gauge, Metrics
from gql_keys.settings import Settings

log = logging.getLogger("gql_keys.redis")

#: What a failed Redis call raises: redis-py errors and the OS errors (timeouts included).
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)


T = TypeVar("T")


async def twice(call: Callable[[], Awaitable[T]]) -> T:
    """Run a Redis call, and once more if it fails.

    After Redis comes back, pooled connections opened before the outage fail on first
    use; the retry runs on a fresh one. When Redis really is down, the second attempt
    fails just as fast (connection refused) and the breaker takes over.
    """
    try:
        return await call()
    except REDIS_ERRORS:
        return await call()


def connect(settings: Settings) -> Redis:
    """A lazily connecting client; nothing touches the network until the first command."""
    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.redis_timeout_seconds,
        socket_timeout=settings.redis_timeout_seconds,
        health_check_interval=10,
        retry_on_timeout=False,
    )


@dataclass(slots=True)
class RedisStats:
    """Counters exposed on ``/metrics``."""

    available: bool = True
    fallbacks: Counter[str] = field(default_factory=Counter)  # component -> calls served locally
    outages: int = 0
    publish_failures: int = 0
    broker_connected: bool = False
    broker_reconnects: int = 0


class RedisAvailability:
    """A small circuit breaker shared by the Redis seams of one process."""

    def __init__(
        self,
        retry_seconds: float,
        stats: RedisStats | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.retry_seconds = retry_seconds
        self.stats = stats or RedisStats()
        self.metrics = metrics
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        return self.stats.available

    def usable(self) -> bool:
        """Whether to try Redis now: it is up, or its retry pause has passed."""
        return self.stats.available or time.monotonic() >= self._down_until

    def failed(self, component: str, exc: BaseException) -> None:
        self._down_until = time.monotonic() + self.retry_seconds
        if self.metrics is not None:
            self.metrics.limiter_errors.inc(component)
        if self.stats.available:
            self.stats.available = False
            self.stats.outages += 1
            log.warning(
                "redis unreachable (%s: %s): rate limits and replay detection fall back to "
                "per-process state; retrying every %.1fs",
                component,
                exc.__class__.__name__,
                self.retry_seconds,
            )

    def fallback(self, component: str) -> None:
        self.stats.fallbacks[component] += 1
        if self.metrics is not None:
            self.metrics.limiter_fallbacks.inc(component)

    def succeeded(self) -> None:
        if not self.stats.available:
            self.stats.available = True
            log.warning("redis reachable again: rate limits and replay detection are shared")


class _ReadCounter(MetricCounter):
    """A counter whose value lives elsewhere (in :class:`RedisStats`), read at scrape time."""

    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        super().__init__(name, help_text)
        self._read = read

    def render(self) -> list[str]:
        self.values = {"": self._read()}
        return super().render()


def register_metrics(metrics: Metrics, stats: RedisStats) -> None:
    """Expose the Redis seams on ``/metrics`` (fallbacks go to ``limiter_fallbacks``)."""
    metrics.extra.extend(
        [
            Gauge(
                "gql_keys_redis_available",
                "1 while Redis answers; 0 while the process runs on its local fallbacks.",
                read=lambda: float(stats.available),
            ),
            _ReadCounter(
                "gql_keys_redis_outages_total",
                "Times Redis became unreachable.",
                lambda: float(stats.outages),
            ),
            Gauge(
                "gql_keys_broker_connected",
                "1 while the Redis pub/sub subscription of this process is live.",
                read=lambda: float(stats.broker_connected),
            ),
            _ReadCounter(
                "gql_keys_broker_publish_failures_total",
                "Activity events that could not be published to Redis (delivered locally).",
                lambda: float(stats.publish_failures),
            ),
            _ReadCounter(
                "gql_keys_broker_reconnects_total",
                "Times the Redis subscription was re-established after a loss.",
                lambda: float(stats.broker_reconnects),
            ),
        ]
    )
