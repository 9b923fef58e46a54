"""Key-cache invalidation across workers.

A worker that deletes or changes a key calls :meth:`KeyInvalidator.key_changed` after
the transaction commits: its own cache forgets the key at once and, with Redis, every
other worker hears it on ``<prefix>:key-invalidated`` and forgets it too. Without Redis
(or while it is down) the key cache's TTL (``GQL_KEYS_KEY_CACHE_TTL_SECONDS``, <= 5 s)
bounds how long another worker may still use its cached copy.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from gql_keys.broker.redis import RedisBroker

log = logging.getLogger("gql_keys.broker")

Forget = Callable[[str], Awaitable[None]]


class KeyInvalidator(Protocol):
    def subscribe(self, forget: Forget) -> None:
        """Call ``forget(key)`` whenever any worker reports ``key`` changed."""
        ...

    async def key_changed(self, key: str) -> None:
        """Report that ``key`` (the public KEY identifier) was deleted or changed."""
        ...


class LocalKeyInvalidator:
    """One process: forgetting locally is all there is to do."""

    def __init__(self) -> None:
        self._listeners: list[Forget] = []

    def subscribe(self, forget: Forget) -> None:
        self._listeners.append(forget)

    async def _forget(self, key: str) -> None:
        for forget in self._listeners:
            await forget(key)

    async def key_changed(self, key: str) -> None:
        await self._forget(key)


class RedisKeyInvalidator(LocalKeyInvalidator):
    """Forget locally, then tell every worker through the broker's one subscription."""

    def __init__(self, broker: RedisBroker, prefix: str) -> None:
        super().__init__()
        self.channel = f"{prefix}:key-invalidated"
        self._broker = broker
        broker.add_channel(self.channel, self._on_message)

    async def _on_message(self, data: bytes) -> None:
        await self._forget(data.decode())

    async def key_changed(self, key: str) -> None:
        await self._forget(key)
        if not await self._broker.publish_raw(self.channel, key):
            log.warning(
                "key invalidation not broadcast (redis unavailable): other workers drop "
                "their cached copy within the key cache TTL"
            )
