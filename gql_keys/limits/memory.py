"""In-process rate limiter and replay cache: the embedded default (one worker).

Both are plain dictionaries touched only from the event loop, so every operation is
atomic without locks. Expired entries are swept incrementally so memory stays bounded
by the traffic of one window.
"""

from __future__ import annotations

import math
from collections import deque

from gql_keys.limits.base import RateDecision

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


class MemoryReplayCache:
    """``fingerprint -> expires_at`` with an insertion-ordered expiry queue."""

    def __init__(self, max_entries: int = 1_000_000) -> None:
        self._seen: dict[str, float] = {}
        self._order: deque[tuple[float, str]] = deque()
        self.max_entries = max_entries

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._seen.clear()
        self._order.clear()

    def __len__(self) -> int:
        return len(self._seen)

    async def first_seen(self, fingerprint: str, ttl_seconds: float, now: float) -> bool:
        return self.first_seen_now(fingerprint, ttl_seconds, now)

    def first_seen_now(self, fingerprint: str, ttl_seconds: float, now: float) -> bool:
        """Synchronous :meth:`first_seen`."""
        self._expire(now)
        expires = self._seen.get(fingerprint)
        if expires is not None and expires > now:
            return False
        until = now + ttl_seconds
        self._seen[fingerprint] = until
        self._order.append((until, fingerprint))
        return True

    async def forget(self, fingerprint: str) -> None:
        self._seen.pop(fingerprint, None)

    def _expire(self, now: float) -> None:
        order, seen = self._order, self._seen
        while order and (order[0][0] <= now or len(order) > self.max_entries):
            until, fingerprint = order.popleft()
            if seen.get(fingerprint) == until:
                del seen[fingerprint]
