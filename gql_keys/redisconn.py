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

from gql_keys.metrics import Metrics, RedisMetrics
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
    """What the Redis seams of one process report; changes also go to ``/metrics``."""

    available: bool = True
    fallbacks: Counter[str] = field(default_factory=Counter)  # component -> calls served locally
    publish_failures: int = 0
    broker_reconnects: int = 0
    metrics: RedisMetrics | None = None

    def went_down(self) -> None:
        self.available = False
        if self.metrics is not None:
            self.metrics.available.set(0)
            self.metrics.outages.inc()

    def came_back(self) -> None:
        self.available = True
        if self.metrics is not None:
            self.metrics.available.set(1)

    def subscribed(self, again: bool) -> None:
        if again:
            self.broker_reconnects += 1
        if self.metrics is not None:
            self.metrics.broker_connected.set(1)
            if again:
                self.metrics.broker_reconnects.inc()

    def unsubscribed(self) -> None:
        if self.metrics is not None:
            self.metrics.broker_connected.set(0)

    def publish_failed(self, events: int) -> None:
        self.publish_failures += events
        if self.metrics is not None:
            self.metrics.publish_failures.inc(events)


class RedisAvailability:
    """A small circuit breaker shared by the Redis seams of one process."""

    def __init__(self, retry_seconds: float, metrics: Metrics | None = None) -> None:
        self.retry_seconds = retry_seconds
        self.stats = RedisStats(metrics=metrics.track_redis() if metrics is not None else None)
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
            self.stats.went_down()
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
            self.stats.came_back()
            log.warning("redis reachable again: rate limits and replay detection are shared")
