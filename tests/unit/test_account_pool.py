"""The account pool in both rate limiters: one request counts in its key's window and its
account's pool together, or (when either is full) in neither, and the tighter is reported."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from gql_keys.limits.base import Pool, RateDecision, RateLimiter, tighter
from gql_keys.limits.memory import MemoryRateLimiter
from gql_keys.limits.redis import RedisRateLimiter
from gql_keys.redisconn import RedisAvailability, connect
from gql_keys.settings import Settings
from tests.conftest import REDIS_URL, require_service

NOW = 1_800_000_000.5  # 0.5 s into a 10-second window
POOL = Pool("account:1", 3, 10)


@pytest.fixture(params=["memory", "redis"])
async def limiters(request: pytest.FixtureRequest) -> AsyncIterator[list[RateLimiter]]:
    """Two limiters as two workers would hold them: one store for Redis, each its own
    for memory (the embedded default is one worker)."""
    if request.param == "memory":
        yield [MemoryRateLimiter()]
        return
    url = require_service("redis", REDIS_URL)
    prefix = f"gql-keys-test-{secrets.token_hex(4)}"
    settings = Settings(redis_url=url, redis_prefix=prefix)
    clients = [connect(settings), connect(settings)]
    yield [RedisRateLimiter(c, prefix, RedisAvailability(1.0)) for c in clients]
    cleanup = Redis.from_url(url)
    async for key in cleanup.scan_iter(match=f"{prefix}:*"):
        await cleanup.delete(key)
    await cleanup.aclose()
    for client in clients:
        await client.aclose()


def worker(limiters: list[RateLimiter], n: int) -> RateLimiter:
    return limiters[n % len(limiters)]


async def test_two_keys_of_one_account_share_its_pool(limiters: list[RateLimiter]) -> None:
    decisions = [
        await worker(limiters, n).hit_pooled(f"key:{n % 2}", 100, 10, POOL, NOW) for n in range(4)
    ]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    # The pool is the tighter: its limit and what is left of it are reported.
    assert [(d.limit, d.remaining) for d in decisions] == [(3, 2), (3, 1), (3, 0), (3, 0)]
    assert decisions[-1].reset_at == 1_800_000_010.0
    # Another account's pool is its own.
    other = await limiters[0].hit_pooled("key:9", 100, 10, Pool("account:2", 3, 10), NOW)
    assert (other.allowed, other.remaining) == (True, 2)


async def test_a_request_refused_by_either_counts_in_neither(limiters: list[RateLimiter]) -> None:
    own = await limiters[0].hit_pooled("key:1", 1, 10, POOL, NOW)
    assert (own.allowed, own.limit, own.remaining) == (True, 1, 0)  # the key's own is tighter
    refused = await worker(limiters, 1).hit_pooled("key:1", 1, 10, POOL, NOW)
    assert (refused.allowed, refused.limit) == (False, 1)
    # The key's refusal took nothing from the pool: two more for the sibling key.
    sibling = [await limiters[0].hit_pooled("key:2", 5, 10, POOL, NOW) for _ in range(3)]
    assert [d.allowed for d in sibling] == [True, True, False]
    # The pool's refusal took nothing from the sibling key's own window.
    alone = await limiters[0].hit("key:2", 5, 10, NOW)
    assert alone.remaining == 2


async def test_the_windows_may_differ_and_each_resets_on_its_own(
    limiters: list[RateLimiter],
) -> None:
    pool = Pool("account:3", 2, 60)
    first = await limiters[0].hit_pooled("key:1", 100, 1, pool, NOW)
    assert (first.limit, first.remaining, first.reset_at) == (2, 1, 1_800_000_060.0)
    await limiters[0].hit_pooled("key:1", 100, 1, pool, NOW)
    later = await worker(limiters, 1).hit_pooled("key:1", 100, 1, pool, NOW + 5)
    assert (later.allowed, later.reset_at) == (False, 1_800_000_060.0)


def test_the_tighter_decision_is_a_refusal_else_the_one_with_less_left() -> None:
    own = RateDecision(True, 10, 4, 100.0)
    pool = RateDecision(True, 50, 9, 120.0)
    assert tighter(own, pool) is own
    assert tighter(RateDecision(True, 10, 9, 100.0), RateDecision(True, 50, 4, 120.0)).limit == 50
    refused_pool = RateDecision(False, 50, 0, 120.0)
    assert tighter(own, refused_pool) is refused_pool
    refused_own = RateDecision(False, 10, 0, 100.0)
    assert tighter(refused_own, pool) is refused_own
    # Both refuse: the later reset, when a retry can pass both.
    assert tighter(refused_own, refused_pool) is refused_pool
