"""Process-wide collaborators built once at start-up and handed to every service."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from redis.asyncio import Redis

from gql_keys.background import BackgroundTasks
from gql_keys.broker.base import Broker
from gql_keys.broker.hub import Hub
from gql_keys.broker.invalidation import (
    KeyInvalidator,
    LocalKeyInvalidator,
    RedisKeyInvalidator,
)
from gql_keys.broker.memory import InProcessBroker
from gql_keys.broker.redis import RedisBroker
from gql_keys.clock import Clock
from gql_keys.db import connection_label
from gql_keys.key_cache import KeyCache, ServiceTokenCache
from gql_keys.limits.base import RateLimiter, ReplayCache
from gql_keys.limits.memory import MemoryRateLimiter, MemoryReplayCache
from gql_keys.limits.redis import RedisRateLimiter, RedisReplayCache
from gql_keys.metrics import Metrics
from gql_keys.redisconn import RedisAvailability, connect
from gql_keys.scope_rules import BUILTIN, ScopeRules, scope_rules_from
from gql_keys.security.alert_signatures import AlertKeyring
from gql_keys.security.masterkey import load_master_keys
from gql_keys.security.passwords import PasswordHasher
from gql_keys.security.secret_lookup import SecretIndex
from gql_keys.security.secretbox import SecretBox
from gql_keys.security.totp import RecoveryCodeHasher
from gql_keys.settings import Settings
from gql_keys.sockets import SocketRegistry
from gql_keys.usage.writer import UsageWriter, batch_writer_for


@dataclass(slots=True)
class Runtime:
    settings: Settings
    clock: Clock
    secretbox: SecretBox
    secret_index: SecretIndex
    passwords: PasswordHasher
    recovery_codes: RecoveryCodeHasher
    broker: Broker
    hub: Hub
    sockets: SocketRegistry
    key_cache: KeyCache
    service_token_cache: ServiceTokenCache
    rate_limiter: RateLimiter
    replay_cache: ReplayCache
    usage_writer: UsageWriter
    metrics: Metrics
    alert_keys: AlertKeyring  # GitHub's secret-scanning public keys, fetched when needed
    key_invalidator: KeyInvalidator = field(default_factory=LocalKeyInvalidator)
    scope_rules: ScopeRules = BUILTIN  # what /authz requires when the gateway names no scope
    redis: Redis | None = None  # shared by the Redis seams when GQL_KEYS_REDIS_URL is set
    background: BackgroundTasks = field(default_factory=BackgroundTasks)
    # Set when a change starts cooling off here: the sweep re-reads when the next one is due.
    cooling_off_changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self.key_invalidator.subscribe(self.key_cache.invalidate)
        await self.broker.start(self.hub)
        await self.rate_limiter.start()
        await self.replay_cache.start()
        await self.usage_writer.start()
        await self.metrics.start()

    async def close(self) -> None:
        await self.background.drain()  # e.g. a canary's owner being told: before the broker
        await self.usage_writer.close()  # flush queued usage rows (publishes their events)
        await self.rate_limiter.close()
        await self.replay_cache.close()
        await self.broker.close()
        if self.redis is not None:
            await self.redis.aclose()
        self.passwords.close()
        await self.metrics.close()  # last: it counts what closing the others did


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    scope_rules = scope_rules_from(settings.scope_rules)  # a bad file stops the start
    keys = load_master_keys(settings)
    clock = clock or Clock()
    secretbox = SecretBox.from_master_keys(keys[0], keys[1:])
    secret_index = SecretIndex(keys)
    metrics = Metrics()
    broker: Broker = InProcessBroker()
    rate_limiter: RateLimiter = MemoryRateLimiter()
    replay_cache: ReplayCache = _memory_replay_cache(settings, metrics)
    key_invalidator: KeyInvalidator = LocalKeyInvalidator()
    sockets = SocketRegistry(settings.ws_max_connections_per_principal)
    redis = None
    if settings.redis_url:
        redis, broker, rate_limiter, replay_cache, key_invalidator = _redis_seams(settings, metrics)
    return Runtime(
        settings=settings,
        clock=clock,
        secretbox=secretbox,
        secret_index=secret_index,
        passwords=PasswordHasher(
            max_concurrency=settings.password_hash_concurrency,
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
        ),
        recovery_codes=RecoveryCodeHasher(),
        broker=broker,
        key_cache=KeyCache(settings, secretbox, clock.time, metrics),
        service_token_cache=ServiceTokenCache(settings, clock.time),
        rate_limiter=rate_limiter,
        replay_cache=replay_cache,
        usage_writer=UsageWriter(
            connection_label(settings.effective_database_url),
            broker,
            metrics,
            max_rows=settings.usage_batch_max_rows,
            writer=batch_writer_for(settings),
        ),
        metrics=metrics,
        key_invalidator=key_invalidator,
        scope_rules=scope_rules,
        redis=redis,
        alert_keys=AlertKeyring(settings.secret_scanning_keys_url, clock.time),
        hub=Hub(settings.ws_subscriber_queue_size, on_session_ended=sockets.close_session),
        sockets=sockets,
    )


def _memory_replay_cache(settings: Settings, metrics: Metrics) -> MemoryReplayCache:
    return MemoryReplayCache(
        settings.replay_cache_max_entries, on_full=lambda: metrics.replay_cache_full.inc()
    )


def _redis_seams(
    settings: Settings, metrics: Metrics
) -> tuple[Redis, RedisBroker, RedisRateLimiter, RedisReplayCache, RedisKeyInvalidator]:
    """Broker, limiter, replay cache and key invalidation shared by every worker via Redis."""
    redis = connect(settings)
    availability = RedisAvailability(settings.redis_retry_seconds, metrics=metrics)
    prefix = settings.redis_prefix
    broker = RedisBroker(redis, prefix, availability)
    return (
        redis,
        broker,
        RedisRateLimiter(redis, prefix, availability),
        RedisReplayCache(redis, prefix, availability, _memory_replay_cache(settings, metrics)),
        RedisKeyInvalidator(broker, prefix),
    )
