"""The in-memory rate limiter and replay cache behind the limits seam."""

from __future__ import annotations

from gql_keys.limits import MemoryRateLimiter, MemoryReplayCache, RateLimiter, ReplayCache


async def test_rate_limiter_counts_within_a_fixed_window_and_resets() -> None:
    limiter: RateLimiter = MemoryRateLimiter()
    decisions = [await limiter.hit("k", 2, 10, 1000.5 + i) for i in range(3)]
    assert [(d.allowed, d.remaining) for d in decisions] == [(True, 1), (True, 0), (False, 0)]
    assert decisions[0].reset_at == 1010.0
    assert (await limiter.hit("k", 2, 10, 1010.0)).allowed is True


async def test_rate_limiter_buckets_are_independent() -> None:
    limiter = MemoryRateLimiter()
    assert (await limiter.hit("a", 1, 60, 0.0)).allowed
    assert not (await limiter.hit("a", 1, 60, 1.0)).allowed
    assert (await limiter.hit("b", 1, 60, 1.0)).allowed


async def test_replay_cache_remembers_until_ttl_then_forgets() -> None:
    cache: ReplayCache = MemoryReplayCache()
    assert await cache.first_seen("f", 10.0, 100.0) is True
    assert await cache.first_seen("f", 10.0, 109.0) is False
    assert await cache.first_seen("g", 10.0, 109.0) is True
    assert await cache.first_seen("f", 10.0, 110.5) is True


async def test_replay_cache_sweeps_expired_entries() -> None:
    cache = MemoryReplayCache()
    for i in range(100):
        await cache.first_seen(str(i), 1.0, 0.0)
    await cache.first_seen("late", 1.0, 5.0)
    assert len(cache) == 1
