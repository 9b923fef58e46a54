"""In-process rate limiter and replay cache: the embedded default (one worker).

Both are plain dictionaries touched only from the event loop, so every operation is
atomic without locks. Expired entries are swept incrementally so memory stays bounded
by the traffic of one window; the replay cache never drops a live entry (it refuses
new ones instead when it is full).
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable

from gql_keys.domain_errors import ServiceUnavailable
from gql_keys.limits.base import RateDecision

log = logging.getLogger(__name__)

_SWEEP_EVERY = 1024


class MemoryRateLimiter:
    """Fixed-window counters: ``bucket -> (window_start, count)``."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._hits = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._windows.clear()

    async def hit(self, bucket: str, limit: int, per_seconds: int, now: float) -> RateDecision:
        return self.hit_now(bucket, limit, per_seconds, now)

    def hit_now(self, bucket: str, limit: int, per_seconds: int, now: float) -> RateDecision:
        """Synchronous :meth:`hit` (the in-memory store never waits)."""
        period = max(1, per_seconds)
        start = math.floor(now / period) * period
        reset_at = float(start + period)
        window = self._windows.get(bucket)
        count = window[1] if window is not None and window[0] == start else 0
        if count >= limit:
            return RateDecision(False, limit, 0, reset_at)
        count += 1
        self._windows[bucket] = (start, count)
        self._hits += 1
        if self._hits % _SWEEP_EVERY == 0:
            self._sweep(now)
        return RateDecision(True, limit, limit - count, reset_at)

    def _sweep(self, now: float) -> None:
        # A window of this bucket is stale when its start is older than any period we
        # allow (one day); cheap and rare enough for the embedded default.
        stale = [b for b, (start, _) in self._windows.items() if start + 86_400 < now]
        for bucket in stale:
            del self._windows[bucket]


class ReplayCacheFull(ServiceUnavailable):
    """Every slot holds a fingerprint that is still live: refuse rather than forget one."""


class MemoryReplayCache:
    """``fingerprint -> expires_at`` with a heap ordered by expiry.

    Only expired fingerprints are ever dropped. When ``max_entries`` live ones are held,
    a new one is refused with :class:`ReplayCacheFull` (fail closed: forgetting a live
    fingerprint would let its replay pass). ``on_full`` is called each time (a metric).
    """

    def __init__(
        self, max_entries: int = 1_000_000, on_full: Callable[[], None] | None = None
    ) -> None:
        self._seen: dict[str, float] = {}
        self._expiries: list[tuple[float, str]] = []  # a heap; may hold forgotten entries
        self.max_entries = max_entries
        self.on_full = on_full

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._seen.clear()
        self._expiries.clear()

    def __len__(self) -> int:
        return len(self._seen)

    async def first_seen(self, fingerprint: str, ttl_seconds: float, now: float) -> bool:
        return self.first_seen_now(fingerprint, ttl_seconds, now)

    def first_seen_now(self, fingerprint: str, ttl_seconds: float, now: float) -> bool:
        """Synchronous :meth:`first_seen`; raises :class:`ReplayCacheFull`."""
        self._expire(now)
        expires = self._seen.get(fingerprint)
        if expires is not None and expires > now:
            return False
        if len(self._seen) >= self.max_entries:
            if self.on_full is not None:
                self.on_full()
            log.warning(
                "replay cache is full (%d live fingerprints): refusing state-changing "
                "requests until some expire",
                len(self._seen),
            )
            raise ReplayCacheFull("The replay cache is full; try again shortly.")
        until = now + ttl_seconds
        self._seen[fingerprint] = until
        heapq.heappush(self._expiries, (until, fingerprint))
        return True

    async def forget(self, fingerprint: str) -> None:
        self._seen.pop(fingerprint, None)
        if len(self._expiries) > 2 * self.max_entries:
            # Forgotten entries linger in the heap until they expire: rebuild it from
            # the live ones so memory stays bounded whatever is forgotten.
            self._expiries = [(until, f) for f, until in self._seen.items()]
            heapq.heapify(self._expiries)

    def _expire(self, now: float) -> None:
        expiries, seen = self._expiries, self._seen
        while expiries and expiries[0][0] <= now:
            until, fingerprint = heapq.heappop(expiries)
            if seen.get(fingerprint) == until:
                del seen[fingerprint]
