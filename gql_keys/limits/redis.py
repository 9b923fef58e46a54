"""Redis rate limiter and replay cache: one quota and one replay memory for all workers.

Both fall back to the in-process implementations while Redis is unreachable (a log line
from :class:`~gql_keys.redisconn.RedisAvailability` and the
``gql_keys_redis_fallback_total`` metric say so) and return to Redis by themselves once
it answers again. While Redis works, decisions are mirrored into the local state so a
fall-back starts from this worker's own counts rather than from zero.
"""

from __future__ import annotations

import math

from redis.asyncio import Redis

from gql_keys.limits.base import Pool, RateDecision, ReplayShare, ReplayShareFull, tighter
from gql_keys.limits.memory import MemoryRateLimiter, MemoryReplayCache, ReplayCacheFull
from gql_keys.redisconn import REDIS_ERRORS, RedisAvailability, twice

# Fixed window, aligned by the caller. Refuse without counting when the window is full,
# otherwise count and (on the first hit) set the expiry. Atomic: Redis runs scripts alone.
_HIT_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  return {0, count}
end
count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {1, count}
"""

# The same for a key's window and its account's pool together: counted in both, or
# (when either is full) in neither. Answers {allowed, key count, pool count}.
_HIT_POOLED_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local pooled = tonumber(redis.call('GET', KEYS[2]) or '0')
if count >= tonumber(ARGV[1]) or pooled >= tonumber(ARGV[3]) then
  return {0, count, pooled}
end
count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
pooled = redis.call('INCR', KEYS[2])
if pooled == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return {1, count, pooled}
"""


class RedisRateLimiter:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        availability: RedisAvailability,
        fallback: MemoryRateLimiter | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:rl:"
        self.availability = availability
        self.fallback = fallback or MemoryRateLimiter()
        self._script = redis.register_script(_HIT_SCRIPT)
        self._pooled_script = redis.register_script(_HIT_POOLED_SCRIPT)

    async def start(self) -> None:
        await self.fallback.start()

    async def close(self) -> None:
        await self.fallback.close()

    async def hit(self, bucket: str, limit: int, per_seconds: int, now: float) -> RateDecision:
        period = max(1, per_seconds)
        start = math.floor(now / period) * period
        reset_at = float(start + period)
        if self.availability.usable():
            try:
                allowed, count = await twice(
                    lambda: self._script(
                        keys=[f"{self._prefix}{bucket}:{start}"],
                        args=[limit, period * 1000 + 1000],
                    )
                )
            except REDIS_ERRORS as exc:
                self.availability.failed("rate_limiter", exc)
            else:
                self.availability.succeeded()
                if not allowed:
                    return RateDecision(False, limit, 0, reset_at)
                self.fallback.hit_now(bucket, limit, per_seconds, now)
                return RateDecision(True, limit, max(0, limit - int(count)), reset_at)
        self.availability.fallback("rate_limiter")
        return self.fallback.hit_now(bucket, limit, per_seconds, now)

    async def hit_pooled(
        self, bucket: str, limit: int, per_seconds: int, pool: Pool, now: float
    ) -> RateDecision:
        period = max(1, per_seconds)
        start = math.floor(now / period) * period
        pool_period = max(1, pool.per_seconds)
        pool_start = math.floor(now / pool_period) * pool_period
        if self.availability.usable():
            try:
                allowed, count, pooled = await twice(
                    lambda: self._pooled_script(
                        keys=[
                            f"{self._prefix}{bucket}:{start}",
                            f"{self._prefix}{pool.bucket}:{pool_start}",
                        ],
                        args=[limit, period * 1000 + 1000, pool.limit, pool_period * 1000 + 1000],
                    )
                )
            except REDIS_ERRORS as exc:
                self.availability.failed("rate_limiter", exc)
            else:
                self.availability.succeeded()
                if allowed:
                    self.fallback.hit_pooled_now(bucket, limit, per_seconds, pool, now)
                count, pooled = int(count), int(pooled)
                return tighter(
                    RateDecision(
                        bool(allowed) or count < limit,
                        limit,
                        max(0, limit - count),
                        float(start + period),
                    ),
                    RateDecision(
                        bool(allowed) or pooled < pool.limit,
                        pool.limit,
                        max(0, pool.limit - pooled),
                        float(pool_start + pool_period),
                    ),
                )
        self.availability.fallback("rate_limiter")
        return self.fallback.hit_pooled_now(bucket, limit, per_seconds, pool, now)


# A new fingerprint, counted in its owner's share (a sorted set of the owner's live
# fingerprints scored by expiry, in Unix ms of the caller's clock). Answers {1} when
# first seen, {0} for a replay, {-1, oldest expiry} when the owner's share is full.
_FIRST_SEEN_SCRIPT = """
local now, ttl, max_live = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0}
end
if redis.call('ZCARD', KEYS[2]) >= max_live then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {-1, oldest[2]}
end
redis.call('SET', KEYS[1], '1', 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[4])
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {1}
"""

_FORGET_SCRIPT = """
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


class RedisReplayCache:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        availability: RedisAvailability,
        fallback: MemoryReplayCache | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:replay:"
        self._share_prefix = f"{prefix}:replay-share:"
        self.availability = availability
        self.fallback = fallback or MemoryReplayCache()
        self._first_seen = redis.register_script(_FIRST_SEEN_SCRIPT)
        self._forget = redis.register_script(_FORGET_SCRIPT)

    async def start(self) -> None:
        await self.fallback.start()

    async def close(self) -> None:
        await self.fallback.close()

    async def first_seen(
        self,
        fingerprint: str,
        ttl_seconds: float,
        now: float,
        *,
        share: ReplayShare | None = None,
    ) -> bool:
        if self.availability.usable():
            try:
                created = await twice(lambda: self._remember(fingerprint, ttl_seconds, now, share))
            except REDIS_ERRORS as exc:
                self.availability.failed("replay_cache", exc)
            else:
                self.availability.succeeded()
                try:
                    local_first = self.fallback.first_seen_now(
                        fingerprint, ttl_seconds, now, share=share
                    )
                except (ReplayCacheFull, ReplayShareFull):
                    # Only the fall-back mirror is full; Redis itself decided.
                    local_first = True
                return created and local_first
        self.availability.fallback("replay_cache")
        return self.fallback.first_seen_now(fingerprint, ttl_seconds, now, share=share)

    async def _remember(
        self, fingerprint: str, ttl_seconds: float, now: float, share: ReplayShare | None
    ) -> bool:
        """Redis's answer; raises :class:`ReplayShareFull` (nothing stored)."""
        ttl_ms = max(1, math.ceil(ttl_seconds * 1000))
        key = f"{self._prefix}{fingerprint}"
        if share is None:
            return bool(await self._redis.set(key, b"1", nx=True, px=ttl_ms))
        answer = await self._first_seen(
            keys=[key, f"{self._share_prefix}{share.owner}"],
            args=[math.floor(now * 1000), ttl_ms, share.max_live, fingerprint],
        )
        if int(answer[0]) < 0:
            raise ReplayShareFull(float(answer[1]) / 1000)
        return int(answer[0]) == 1

    async def forget(self, fingerprint: str, *, share: ReplayShare | None = None) -> None:
        self.fallback.forget_now(fingerprint)
        if self.availability.usable():
            key = f"{self._prefix}{fingerprint}"
            try:
                if share is None:
                    await self._redis.delete(key)
                else:
                    await self._forget(
                        keys=[key, f"{self._share_prefix}{share.owner}"], args=[fingerprint]
                    )
            except REDIS_ERRORS as exc:
                self.availability.failed("replay_cache", exc)
