"""Local fan-out: one broker subscription per process, a bounded queue per subscriber.

The broker hands every event this process hears to :meth:`Hub.deliver`, which copies it
into the queue of each subscriber whose filter accepts it. ``deliver`` never waits: a
subscriber whose queue is full is marked overflowed, dropped, and its ``on_overflow``
callback closes its WebSocket, so one slow client neither slows the others nor grows
memory.

A ``SESSION_ENDED`` control event travels through the broker like any other, so a
logout on one worker reaches every worker; it is never handed to subscribers, only to
the ``on_session_ended`` callback (which closes that session's WebSockets).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from gql_keys.broker.events import ActivityEvent, ControlKind

log = logging.getLogger("gql_keys.broker")

EventFilter = Callable[[ActivityEvent], bool]


class SlowConsumer(Exception):
    """The subscriber's queue overflowed; it is dropped rather than slowing the others."""


class Subscriber:
    def __init__(
        self,
        accepts: EventFilter,
        queue_size: int,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self.accepts = accepts
        self.queue: asyncio.Queue[ActivityEvent] = asyncio.Queue(maxsize=queue_size)
        self.overflowed = False
        self.on_overflow = on_overflow

    async def next(self) -> ActivityEvent:
        if self.overflowed:
            raise SlowConsumer("subscriber could not keep up with the event stream")
        event = await self.queue.get()
        if self.overflowed:
            raise SlowConsumer("subscriber could not keep up with the event stream")
        return event


class Hub:
    """Receives every event of this process and hands each to the subscribers that want it."""

    def __init__(
        self, queue_size: int = 1000, on_session_ended: Callable[[int], object] | None = None
    ) -> None:
        self.queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self.on_session_ended = on_session_ended
        self.delivered = 0
        self.dropped_subscribers = 0

    def subscribe(
        self, accepts: EventFilter, on_overflow: Callable[[], None] | None = None
    ) -> Subscriber:
        subscriber = Subscriber(accepts, self.queue_size, on_overflow)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def deliver(self, event: ActivityEvent) -> None:
        if event.kind == ControlKind.SESSION_ENDED:
            if event.session_id is not None and self.on_session_ended is not None:
                self.on_session_ended(event.session_id)
            return
        for subscriber in tuple(self._subscribers):
            if subscriber.overflowed or not subscriber.accepts(event):
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._overflow(subscriber, event)
            else:
                self.delivered += 1

    def _overflow(self, subscriber: Subscriber, event: ActivityEvent) -> None:
        subscriber.overflowed = True
        self._subscribers.discard(subscriber)
        self.dropped_subscribers += 1
        # Free the memory now; the consumer sees SlowConsumer on its next read.
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        # Leave one item so a consumer about to read wakes up and sees SlowConsumer.
        subscriber.queue.put_nowait(event)
        if subscriber.on_overflow is not None:
            try:
                subscriber.on_overflow()
            except Exception:
                log.exception("slow-consumer callback failed")
