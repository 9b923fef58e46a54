"""The Redis rate limiter, replay cache, broker and key invalidation against real Redis."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from redis.asyncio import Redis

from gql_keys.app import create_app, runtime_of
from gql_keys.broker.events import ActivityEvent, ActivityKind
from gql_keys.broker.invalidation import RedisKeyInvalidator
from gql_keys.broker.redis import RedisBroker
from gql_keys.limits.redis import RedisRateLimiter, RedisReplayCache
from gql_keys.redisconn import RedisAvailability, connect
from gql_keys.settings import Settings
from tests.conftest import REDIS_URL, require_service
from tests.scaleout.proxy import TcpProxy

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url() -> str:
    return require_service("redis", REDIS_URL)


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    name = f"gql-keys-test-{secrets.token_hex(4)}"
    yield name
    client = Redis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match=f"{name}:*"):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(redis_url)
    p = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    await p.start()
    yield p
    await p.stop()


class Worker:
    """What one process builds: a client, a breaker, and the seams on top of them."""

    def __init__(self, url: str, prefix: str, retry_seconds: float = 0.2) -> None:
        settings = Settings(redis_url=url, redis_prefix=prefix, redis_retry_seconds=retry_seconds)
        self.redis = connect(settings)
        self.availability = RedisAvailability(retry_seconds)
        self.limiter = RedisRateLimiter(self.redis, prefix, self.availability)
        self.replay = RedisReplayCache(self.redis, prefix, self.availability)
        self.broker = RedisBroker(self.redis, prefix, self.availability, backoff_max=0.2)
        self.invalidator = RedisKeyInvalidator(self.broker, prefix)
        self.events: list[ActivityEvent] = []
        self.forgotten: list[str] = []

        async def forget(key: str) -> None:
            self.forgotten.append(key)

        self.invalidator.subscribe(forget)

    def deliver(self, event: ActivityEvent) -> None:
        self.events.append(event)

    @property
    def subscriber_count(self) -> int:
        return 1  # records everything

    async def start(self) -> None:
        await self.broker.start(self)

    async def close(self) -> None:
        await self.broker.close()
        await self.redis.aclose()


@pytest.fixture
async def workers(redis_url: str, prefix: str) -> AsyncIterator[tuple[Worker, Worker]]:
    a, b = Worker(redis_url, prefix), Worker(redis_url, prefix)
    await a.start()
    await b.start()
    yield a, b
    await a.close()
    await b.close()


def used(n: int) -> ActivityEvent:
    return ActivityEvent(
        id=str(n), kind=ActivityKind.KEY_USED, occurred_at=datetime.now(UTC), owner_id=1, key="k"
    )


async def eventually(predicate: object, timeout: float = 5.0) -> None:
    assert callable(predicate)
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_two_limiters_share_one_quota(workers: tuple[Worker, Worker]) -> None:
    a, b = workers
    now = 1_800_000_000.0
    decisions = await asyncio.gather(*(w.limiter.hit("key-1", 20, 10, now) for w in (a, b) * 30))
    assert sum(d.allowed for d in decisions) == 20
    assert min(d.remaining for d in decisions) == 0
    assert {d.reset_at for d in decisions} == {1_800_000_010.0}
    assert a.availability.stats.fallbacks["rate_limiter"] == 0


async def test_limiter_windows_are_aligned_and_refusals_do_not_count(
    workers: tuple[Worker, Worker],
) -> None:
    a, b = workers
    now = 1_800_000_003.0
    assert [(await a.limiter.hit("k", 2, 10, now)).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert not (await b.limiter.hit("k", 2, 10, now + 6)).allowed
    fresh = await b.limiter.hit("k", 2, 10, now + 7)  # the next window starts at ...010
    assert fresh.allowed
    assert fresh.remaining == 1


async def test_signature_seen_on_one_worker_is_replayed_on_the_other(
    workers: tuple[Worker, Worker],
) -> None:
    a, b = workers
    assert await a.replay.first_seen("sig-1", 60, 0.0)
    assert not await b.replay.first_seen("sig-1", 60, 0.0)
    results = await asyncio.gather(*(w.replay.first_seen("sig-2", 60, 0.0) for w in (a, b) * 10))
    assert results.count(True) == 1


async def test_replay_entries_expire_after_their_ttl(workers: tuple[Worker, Worker]) -> None:
    a, b = workers
    assert await a.replay.first_seen("short", 0.05, 0.0)
    await asyncio.sleep(0.1)
    assert await b.replay.first_seen("short", 0.05, 1.0)


async def test_event_published_on_one_worker_reaches_both(
    workers: tuple[Worker, Worker],
) -> None:
    a, b = workers
    await a.broker.publish([used(1), used(2)])
    await eventually(lambda: len(a.events) == 2 and len(b.events) == 2)
    assert [e.id for e in b.events] == ["1", "2"]


async def test_key_invalidation_reaches_every_worker(workers: tuple[Worker, Worker]) -> None:
    a, b = workers
    await a.invalidator.key_changed("some-key")
    assert a.forgotten == ["some-key"]  # at once, before any round trip
    await eventually(lambda: b.forgotten == ["some-key"])


async def test_limiter_and_replay_fall_back_while_redis_is_away_and_return(
    proxy: TcpProxy, redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    direct = Worker(redis_url, prefix)
    cut = Worker(f"redis://127.0.0.1:{proxy.port}/0", prefix, retry_seconds=0.1)
    try:
        assert (await cut.limiter.hit("k", 3, 10, 0.0)).allowed
        assert await cut.replay.first_seen("before", 60, 0.0)
        await proxy.stop()
        with caplog.at_level(logging.WARNING, logger="gql_keys.redis"):
            decisions = [await cut.limiter.hit("k", 3, 10, 0.0) for _ in range(3)]
        # The local mirror already counted the first hit: two more fit, the third does not.
        assert [d.allowed for d in decisions] == [True, True, False]
        assert not await cut.replay.first_seen("before", 60, 0.0)  # still caught locally
        assert await cut.replay.first_seen("during", 60, 0.0)
        assert not await cut.replay.first_seen("during", 60, 0.0)
        assert not cut.availability.available
        assert cut.availability.stats.fallbacks["rate_limiter"] == 3
        assert cut.availability.stats.fallbacks["replay_cache"] == 3
        assert "redis unreachable" in caplog.text

        await proxy.start()
        await asyncio.sleep(0.15)
        assert await cut.replay.first_seen("after", 60, 0.0)
        assert cut.availability.available
        assert not await direct.replay.first_seen("after", 60, 0.0)  # shared again
    finally:
        await direct.close()
        await cut.close()


async def test_broker_counts_failed_publishes_and_resubscribes_when_redis_returns(
    proxy: TcpProxy, redis_url: str, prefix: str
) -> None:
    direct = Worker(redis_url, prefix)
    cut = Worker(f"redis://127.0.0.1:{proxy.port}/0", prefix, retry_seconds=0.1)
    await direct.start()
    await cut.start()
    try:
        assert cut.broker.connected
        await proxy.stop()
        await eventually(lambda: not cut.broker.connected)
        assert not await cut.broker.healthy()
        await cut.broker.publish([used(1)])
        assert cut.availability.stats.publish_failures == 1
        assert [e.id for e in cut.events] == ["1"]  # still delivered to local subscribers
        await direct.broker.publish([used(2)])  # cut is not listening: lost for it

        await proxy.start()
        await eventually(lambda: cut.broker.connected)
        assert await cut.broker.healthy()
        assert cut.availability.stats.broker_reconnects == 1
        await asyncio.sleep(0.15)
        await direct.broker.publish([used(3)])
        await cut.broker.publish([used(4)])
        await eventually(lambda: [e.id for e in cut.events] == ["1", "3", "4"])
        await eventually(lambda: [e.id for e in direct.events] == ["2", "3", "4"])
    finally:
        await direct.close()
        await cut.close()


async def metric_value(client: httpx.AsyncClient, name: str) -> float:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")


async def test_app_with_redis_url_wires_the_redis_seams_and_reports_their_health(
    proxy: TcpProxy, sqlite_database_url: str, prefix: str, tmp_path: Path, master_key: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=sqlite_database_url,
        master_key=master_key,
        redis_url=f"redis://127.0.0.1:{proxy.port}/0",
        redis_prefix=prefix,
        redis_retry_seconds=0.1,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        rt = runtime_of(app)
        assert isinstance(rt.broker, RedisBroker)
        assert isinstance(rt.rate_limiter, RedisRateLimiter)
        assert isinstance(rt.replay_cache, RedisReplayCache)
        assert isinstance(rt.key_invalidator, RedisKeyInvalidator)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/readyz")).status_code == 200
            assert await metric_value(client, "gql_keys_redis_available") == 1
            assert await metric_value(client, "gql_keys_broker_connected") == 1

            await proxy.stop()
            await eventually(lambda: not rt.broker.connected)
            body = (await client.get("/readyz")).json()
            assert body["broker"] is False
            assert await rt.replay_cache.first_seen("x", 60, 0.0)
            assert await metric_value(client, "gql_keys_redis_available") == 0
            assert await metric_value(client, "gql_keys_broker_connected") == 0
            assert await metric_value(client, "gql_keys_redis_outages_total") == 1

            await proxy.start()
            await eventually(lambda: rt.broker.connected)
            assert await metric_value(client, "gql_keys_broker_reconnects_total") == 1
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
