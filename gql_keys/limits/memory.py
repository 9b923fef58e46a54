"""In-process rate limiter and replay cache: the embedded default (one worker).

Both are plain dictionaries touched only from the event loop, so every operation is
atomic without locks. Expired entries are swept incrementally so memory stays bounded
by the traffic of one window; the replay cache never drops a live entry (it refuses
new ones instead: one key's when that key holds its share, everyone's when it is full).
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable

from gql_keys.domain_errors import ServiceUnavailable
from gql_keys.limits.base import Pool, RateDecision, ReplayShare, ReplayShareFull, tighter

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

    async def hit_pooled(
        self, bucket: str, limit: int, per_seconds: int, pool: Pool, now: float
    ) -> RateDecision:
        return self.hit_pooled_now(bucket, limit, per_seconds, pool, now)

    def hit_pooled_now(
        self, bucket: str, limit: int, per_seconds: int, pool: Pool, now: float
    ) -> RateDecision:
        """Synchronous :meth:`hit_pooled` (one decision built: the hot path)."""
        windows = self._windows
        period = per_seconds if per_seconds > 1 else 1
        start = now // period * period
        window = windows.get(bucket)
        count = window[1] if window is not None and window[0] == start else 0
        pool_limit = pool.limit
        pool_period = pool.per_seconds if pool.per_seconds > 1 else 1
        pool_start = now // pool_period * pool_period
        shared = windows.get(pool.bucket)
        pooled = shared[1] if shared is not None and shared[0] == pool_start else 0
        if count < limit and pooled < pool_limit:
            count += 1
            pooled += 1
            windows[bucket] = (start, count)
            windows[pool.bucket] = (pool_start, pooled)
            self._hits += 1
            if self._hits % _SWEEP_EVERY == 0:
                self._sweep(now)
            if pool_limit - pooled < limit - count:
                return RateDecision(True, pool_limit, pool_limit - pooled, pool_start + pool_period)
            return RateDecision(True, limit, limit - count, start + period)
        own = RateDecision(count < limit, limit, max(0, limit - count), start + period)
        return tighter(
            own,
            RateDecision(
                pooled < pool_limit,
                pool_limit,
                max(0, pool_limit - pooled),
                pool_start + pool_period,
            ),
        )

    def _sweep(self, now: float) -> None:
        # A window of this bucket is stale when its start is older than any period we
        # allow (one day); cheap and rare enough for the embedded default.
        stale = [b for b, (start, _) in self._windows.items() if start + 86_400 < now]
        for bucket in stale:
            del self._windows[bucket]


class ReplayCacheFull(ServiceUnavailable):
    """Every slot holds a fingerprint that is still live: refuse rather than forget one."""


class MemoryReplayCache:
    """``fingerprint -> (expires_at, owner)`` with a heap ordered by expiry, and each
    owner's live fingerprints (in insertion order).

    Only expired fingerprints are ever dropped. A new fingerprint whose owner already
    holds ``share.max_live`` live ones raises :class:`ReplayShareFull`: that owner's
    request alone is refused. When ``max_entries`` live ones are held in all, a new one is
    refused with :class:`ReplayCacheFull` (the last resort, failing closed for everyone:
    forgetting a live fingerprint would let its replay pass). ``on_full`` is called each
    time that happens (a metric).
    """

    def __init__(
        self, max_entries: int = 1_000_000, on_full: Callable[[], None] | None = None
    ) -> None:
        self._seen: dict[str, tuple[float, str | None]] = {}
        self._expiries: list[tuple[float, str]] = []  # a heap; may hold forgotten entries
        self._owned: dict[str, dict[str, float]] = {}  # owner -> fingerprint -> expires_at
        self.max_entries = max_entries
        self.on_full = on_full

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._seen.clear()
        self._expiries.clear()
        self._owned.clear()

    def __len__(self) -> int:
        return len(self._seen)

    async def first_seen(
        self,
        fingerprint: str,
        ttl_seconds: float,
        now: float,
        *,
        share: ReplayShare | None = None,
    ) -> bool:
        return self.first_seen_now(fingerprint, ttl_seconds, now, share=share)

    def first_seen_now(
        self,
        fingerprint: str,
        ttl_seconds: float,
        now: float,
        *,
        share: ReplayShare | None = None,
    ) -> bool:
        """Synchronous :meth:`first_seen`; raises :class:`ReplayShareFull` or
        :class:`ReplayCacheFull`."""
        self._expire(now)
        held = self._seen.get(fingerprint)
        if held is not None:
            if held[0] > now:
                return False
            self._drop(fingerprint)
        if share is not None:
            owned = self._owned.get(share.owner)
            if owned is not None and len(owned) >= share.max_live:
                # The oldest one's expiry: a slot is free again by then at the latest.
                raise ReplayShareFull(next(iter(owned.values())))
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
        self._seen[fingerprint] = (until, share.owner if share is not None else None)
        heapq.heappush(self._expiries, (until, fingerprint))
        if share is not None:
            self._owned.setdefault(share.owner, {})[fingerprint] = until
        return True

    async def forget(self, fingerprint: str, *, share: ReplayShare | None = None) -> None:
        self.forget_now(fingerprint)

    def forget_now(self, fingerprint: str) -> None:
        """Synchronous :meth:`forget` (the owner is known from the entry itself)."""
        self._drop(fingerprint)
        if len(self._expiries) > 2 * self.max_entries:
            # Forgotten entries linger in the heap until they expire: rebuild it from
            # the live ones so memory stays bounded whatever is forgotten.
            self._expiries = [(until, f) for f, (until, _) in self._seen.items()]
            heapq.heapify(self._expiries)

    def _drop(self, fingerprint: str) -> None:
        held = self._seen.pop(fingerprint, None)
        if held is None or held[1] is None:
            return
        owned = self._owned.get(held[1])
        if owned is not None:
            owned.pop(fingerprint, None)
            if not owned:
                del self._owned[held[1]]

    def _expire(self, now: float) -> None:
        expiries, seen = self._expiries, self._seen
        while expiries and expiries[0][0] <= now:
            until, fingerprint = heapq.heappop(expiries)
            held = seen.get(fingerprint)
            if held is not None and held[0] == until:
                self._drop(fingerprint)
