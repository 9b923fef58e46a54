"""One tenant could refuse everyone's state-changing requests. The replay cache is
bounded globally and fails closed when full of live fingerprints, so one key sending
many distinct POSTs filled it and every other key's POST/PUT/PATCH/DELETE got 503 until
the fingerprints expired (about two minutes). Each key now has its own share of live
fingerprints (what its rate limit can accept while a fingerprint lives, at most
``replay_max_live_per_key``): past it that key alone is answered ``RATE_LIMITED``."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from gql_keys.clock import Clock
from gql_keys.limits.base import ReplayShare, ReplayShareFull
from gql_keys.limits.memory import MemoryReplayCache
from gql_keys.limits.redis import RedisReplayCache
from gql_keys.redisconn import RedisAvailability
from gql_keys.runtime import Runtime, build_runtime
from gql_keys.scopes import Scope
from gql_keys.services.verification import (
    SignedRequest,
    VerificationCode,
    replay_share,
    verify,
)
from gql_keys.settings import Settings
from harness.keys import create_active_key, create_user, sign
from tests.conftest import REDIS_URL, require_service

SHARE = 5
PATH = "/api/v4/spot/orders"


def order(key: str, secret: str, now: float, n: int) -> SignedRequest:
    """A signed POST placing order ``n`` (a distinct body, so a distinct fingerprint)."""
    body = f'{{"text":"t-{n}","amount":"1"}}'.encode()
    timestamp = str(int(now))
    return SignedRequest(
        key=key,
        signature=sign(secret, "POST", PATH, "", body, timestamp),
        timestamp=timestamp,
        method="POST",
        path=PATH,
        query="",
        body_sha512=hashlib.sha512(body).hexdigest(),
        client_ip="203.0.113.7",
        required_scope=Scope.SPOT_WRITE,
    )


@pytest.fixture(params=["memory", "redis"])
async def worker(
    request: pytest.FixtureRequest, settings: Settings, clock: Clock, rt: Runtime
) -> AsyncIterator[Runtime]:
    """A worker whose replay cache holds 20 live fingerprints in all, 5 per key."""
    overrides: dict[str, object] = {
        "replay_cache_max_entries": 20,
        "replay_max_live_per_key": SHARE,
    }
    if request.param == "redis":
        overrides["redis_url"] = require_service("redis", REDIS_URL)
        overrides["redis_prefix"] = f"test-{secrets.token_hex(4)}"
    worker = build_runtime(settings.with_overrides(**overrides), clock)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.close()


async def test_one_key_flooding_posts_cannot_refuse_another_keys_post(worker: Runtime) -> None:
    flooder, victim = await create_user(), await create_user()
    noisy, noisy_secret = await create_active_key(worker, flooder.id)
    quiet, quiet_secret = await create_active_key(worker, victim.id)
    now = worker.clock.time()

    codes = [(await verify(worker, order(noisy.key, noisy_secret, now, n))).code for n in range(40)]
    assert codes == [VerificationCode.VALID] * SHARE + [VerificationCode.RATE_LIMITED] * 35
    refused = await verify(worker, order(noisy.key, noisy_secret, now, 99))
    assert refused.rate is not None
    assert now < refused.rate.reset_at <= now + 2 * worker.settings.signature_window_seconds + 1

    # Every other key's state-changing requests still pass.
    for n in range(SHARE):
        decision = await verify(worker, order(quiet.key, quiet_secret, now, n))
        assert decision.code is VerificationCode.VALID

    # The flooder's own accepted orders are still remembered: a replay is caught.
    replay = await verify(worker, order(noisy.key, noisy_secret, now, 0))
    assert replay.code is VerificationCode.REPLAYED

    # Once its fingerprints expire, the flooding key gets its share back.
    worker.clock.advance(2 * worker.settings.signature_window_seconds + 2)
    later = worker.clock.time()
    decision = await verify(worker, order(noisy.key, noisy_secret, later, 100))
    assert decision.code is VerificationCode.VALID


async def test_a_keys_share_is_what_its_rate_limit_accepts_while_a_fingerprint_lives(
    rt: Runtime,
) -> None:
    user = await create_user()
    slow, _ = await create_active_key(rt, user.id, rate_limit=(3, 10))
    record = await rt.key_cache.get(slow.key)
    assert record is not None
    # A fingerprint lives 2 x 60 + 1 s: that touches at most 14 windows of 10 s.
    assert replay_share(record, rt.settings) == ReplayShare(f"key:{slow.id}", 3 * 14)
    fast, _ = await create_active_key(rt, user.id, rate_limit=(1_000_000, 1))
    record = await rt.key_cache.get(fast.key)
    assert record is not None
    assert replay_share(record, rt.settings).max_live == rt.settings.replay_max_live_per_key


async def test_a_full_share_refuses_only_its_owner_and_forgetting_frees_a_slot() -> None:
    cache = MemoryReplayCache(max_entries=100)
    mine, other = ReplayShare("key:1", 2), ReplayShare("key:2", 2)
    assert await cache.first_seen("a", 60.0, 1000.0, share=mine)
    assert await cache.first_seen("b", 30.0, 1000.0, share=mine)
    with pytest.raises(ReplayShareFull) as full:
        await cache.first_seen("c", 60.0, 1001.0, share=mine)
    assert 1000.0 < full.value.reset_at <= 1060.0
    assert not await cache.first_seen("a", 60.0, 1001.0, share=mine)  # still a replay
    assert await cache.first_seen("d", 60.0, 1001.0, share=other)
    await cache.forget("b", share=mine)
    assert await cache.first_seen("c", 60.0, 1002.0, share=mine)
    assert len(cache) == 3


async def test_redis_shares_are_per_key_across_workers_and_forgetting_frees_a_slot() -> None:
    redis = Redis.from_url(require_service("redis", REDIS_URL))
    prefix = f"test-{secrets.token_hex(4)}"
    a, b = (RedisReplayCache(redis, prefix, RedisAvailability(1.0)) for _ in range(2))
    mine, other = ReplayShare("key:1", 2), ReplayShare("key:2", 2)
    try:
        assert await a.first_seen("x", 60.0, 1000.0, share=mine)
        assert await b.first_seen("y", 60.0, 1000.0, share=mine)  # one share for all workers
        with pytest.raises(ReplayShareFull) as full:
            await a.first_seen("z", 60.0, 1001.0, share=mine)
        assert full.value.reset_at == pytest.approx(1060.0)
        assert not await b.first_seen("x", 60.0, 1001.0, share=mine)  # still a replay
        assert await b.first_seen("w", 60.0, 1001.0, share=other)
        await b.forget("y", share=mine)
        assert await a.first_seen("z", 60.0, 1002.0, share=mine)
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
