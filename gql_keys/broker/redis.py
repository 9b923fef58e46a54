"""Redis broker: one pub/sub connection per process, fanned out to the local hub.

Workers publish each event to ``<prefix>:activity``; every worker (the publisher
included) hears it on its single subscription and hands it to ``rt.hub``. Other
channels (key invalidation) ride on the same subscription via :meth:`add_channel`.

When Redis goes away the listener reconnects with exponential backoff and subscribes
again; subscribers on the WebSocket side stay connected and simply resume. Events that
cannot be published are logged, counted and delivered to this process's own
subscribers, so nothing is silently dropped locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Sequence

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from gql_keys.broker.base import EventSink
from gql_keys.broker.events import ActivityEvent
from gql_keys.redisconn import REDIS_ERRORS, RedisAvailability, twice

log = logging.getLogger("gql_keys.broker")

MessageHandler = Callable[[bytes], Awaitable[None] | None]

START_WAIT_SECONDS = 2.0


class RedisBroker:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        availability: RedisAvailability,
        *,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
    ) -> None:
        self._redis = redis
        self.activity_channel = f"{prefix}:activity"
        self.availability = availability
        self.stats = availability.stats
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._handlers: dict[str, MessageHandler] = {}
        self._sink: EventSink | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    def add_channel(self, channel: str, handler: MessageHandler) -> None:
        """Also deliver messages of ``channel`` to ``handler`` (call before :meth:`start`)."""
        self._handlers[channel] = handler

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._handlers[self.activity_channel] = self._on_activity
        self._task = asyncio.create_task(self._listen(), name="gql-keys redis broker")
        # Wait for the first subscription so events published right after start-up are
        # heard; without Redis, start anyway and keep trying in the background.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(START_WAIT_SECONDS):
                await self._subscribed.wait()

    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    async def _listen(self) -> None:
        delay = self.backoff_initial
        lost = False
        while True:
            pubsub: PubSub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*self._handlers)
                self._subscribed.set()
                self.stats.subscribed(again=lost)
                if lost:
                    log.warning("redis broker subscribed again; activity events flow again")
                lost = False
                delay = self.backoff_initial
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self._dispatch(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except REDIS_ERRORS as exc:
                if not lost:
                    log.warning(
                        "redis broker lost its subscription (%s: %s); reconnecting",
                        exc.__class__.__name__,
                        exc,
                    )
                lost = True
                self._subscribed.clear()
                self.stats.unsubscribed()
            finally:
                with contextlib.suppress(*REDIS_ERRORS):
                    await pubsub.aclose()
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self.backoff_max)

    async def _dispatch(self, channel: bytes | str, data: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        handler = self._handlers.get(name)
        if handler is None:
            return
        try:
            result = handler(data.encode() if isinstance(data, str) else data)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("redis broker: handler for %s failed", name)

    def _on_activity(self, data: bytes) -> None:
        if self._sink is not None:
            self._sink.deliver(ActivityEvent.from_json(data))

    async def publish(self, events: Sequence[ActivityEvent]) -> None:
        if not events:
            return
        if self.availability.usable():
            try:
                payloads = [event.to_json() for event in events]
                await twice(lambda: self._publish_all(payloads))
            except REDIS_ERRORS as exc:
                self.availability.failed("broker", exc)
            else:
                self.availability.succeeded()
                return
        self.stats.publish_failed(len(events))
        log.warning("redis broker could not publish %d event(s); delivered locally", len(events))
        if self._sink is not None:
            for event in events:
                self._sink.deliver(event)

    async def _publish_all(self, payloads: list[str]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for payload in payloads:
                pipe.publish(self.activity_channel, payload)
            await pipe.execute()

    def has_audience(self) -> bool:
        return True  # other workers' subscribers are out of sight

    async def publish_raw(self, channel: str, data: str) -> bool:
        """Publish one message on another channel; False when Redis did not take it."""
        if not self.availability.usable():
            return False
        try:
            await twice(lambda: self._redis.publish(channel, data))
        except REDIS_ERRORS as exc:
            self.availability.failed("broker", exc)
            return False
        self.availability.succeeded()
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._subscribed.clear()
        self.stats.unsubscribed()
        self._sink = None

    async def healthy(self) -> bool:
        if not self.connected:
            return False
        try:
            await twice(self._redis.ping)
        except REDIS_ERRORS:
            return False
        return True
