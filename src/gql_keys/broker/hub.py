"""Local fan-out: one broker subscription per process, a bounded queue per subscriber."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gql_keys.broker.events import ActivityEvent

EventFilter = Callable[[ActivityEvent], bool]


class SlowConsumer(Exception):
    """The subscriber's queue overflowed; it is dropped rather than slowing the others."""


class Subscriber:
    def __init__(self, accepts: EventFilter, queue_size: int) -> None:
        self.accepts = accepts
        self.queue: asyncio.Queue[ActivityEvent] = asyncio.Queue(maxsize=queue_size)
        self.overflowed = False

    async def next(self) -> ActivityEvent:
        if self.overflowed:
            raise SlowConsumer("subscriber could not keep up with the event stream")
        event = await self.queue.get()
        if self.overflowed:
            raise SlowConsumer("subscriber could not keep up with the event stream")
        return event


class Hub:
    """Receives every event of this process and hands each to the subscribers that want it."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._subscribers: set[Subscriber] = set()

    def subscribe(self, accepts: EventFilter) -> Subscriber:
        subscriber = Subscriber(accepts, self.queue_size)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def deliver(self, event: ActivityEvent) -> None:
        for subscriber in tuple(self._subscribers):
            if subscriber.overflowed or not subscriber.accepts(event):
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscriber.overflowed = True
                self._subscribers.discard(subscriber)
