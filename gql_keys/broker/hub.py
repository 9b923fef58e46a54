"""Local fan-out: one broker subscription per process, a bounded queue per subscriber.

The broker hands every event this process hears to :meth:`Hub.deliver`, which puts it
(the same object for all) into the queue of each subscriber whose filter accepts it. A
subscriber that names the owners it may hear about (an :class:`Interest` with
``owners``: a dashboard user) is asked only about their events, so an event costs the
hub its owner's subscribers and the monitors, not every socket of the process.

``deliver`` never waits: a subscriber whose queue is full is marked overflowed, dropped,
and its ``on_overflow`` callback closes its WebSocket, so one slow client neither slows
the others nor grows memory.

A ``SESSION_ENDED`` control event travels through the broker like any other, so a
logout on one worker reaches every worker; it is never handed to subscribers, only to
the ``on_session_ended`` callback (which closes that session's WebSockets).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gql_keys.broker.events import ActivityEvent, ControlKind

log = logging.getLogger("gql_keys.broker")

EventFilter = Callable[[ActivityEvent], bool]


@dataclass(frozen=True, slots=True)
class Interest:
    """What a subscriber wants: ``accepts`` decides. With ``owners`` it is never asked
    about an event of another owner (nor one without owner); None: asked about all."""

    accepts: EventFilter
    owners: frozenset[int] | None = None

    def __call__(self, event: ActivityEvent) -> bool:
        return self.accepts(event)


class SlowConsumer(Exception):
    """The subscriber's queue overflowed; it is dropped rather than slowing the others."""


class EventQueue:
    """A bounded FIFO read by one task: ``asyncio.Queue``'s calls, a fraction of its
    memory (one deque, no getter and putter deques, no ``Event``), for thousands of
    subscribers per process."""

    __slots__ = ("_items", "_waiter", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: deque[ActivityEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return len(self._items) >= self.maxsize

    def put_nowait(self, event: ActivityEvent) -> None:
        if len(self._items) >= self.maxsize:
            raise asyncio.QueueFull
        self._items.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> ActivityEvent:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    def clear(self) -> None:
        self._items.clear()

    async def get(self) -> ActivityEvent:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class Subscriber:
    __slots__ = ("accepts", "on_overflow", "overflowed", "owners", "queue")

    def __init__(
        self,
        interest: Interest,
        queue_size: int,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self.accepts = interest.accepts
        self.owners = interest.owners
        self.queue = EventQueue(queue_size)
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
        # Subscribers asked about every event (monitors), and the others by owner.
        self._everything: set[Subscriber] = set()
        self._by_owner: dict[int, set[Subscriber]] = {}
        self._count = 0
        self.on_session_ended = on_session_ended
        self.delivered = 0
        self.dropped_subscribers = 0

    def subscribe(
        self, interest: EventFilter | Interest, on_overflow: Callable[[], None] | None = None
    ) -> Subscriber:
        if not isinstance(interest, Interest):
            interest = Interest(interest)
        subscriber = Subscriber(interest, self.queue_size, on_overflow)
        if subscriber.owners is None:
            self._everything.add(subscriber)
        else:
            for owner in subscriber.owners:
                self._by_owner.setdefault(owner, set()).add(subscriber)
        self._count += 1
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber.owners is None:
            if subscriber not in self._everything:
                return
            self._everything.discard(subscriber)
        else:
            found = False
            for owner in subscriber.owners:
                group = self._by_owner.get(owner)
                if group is not None and subscriber in group:
                    found = True
                    group.discard(subscriber)
                    if not group:
                        del self._by_owner[owner]
            if not found:
                return
        self._count -= 1

    @property
    def subscriber_count(self) -> int:
        return self._count

    def deliver(self, event: ActivityEvent) -> None:
        if event.kind == ControlKind.SESSION_ENDED:
            if event.session_id is not None and self.on_session_ended is not None:
                self.on_session_ended(event.session_id)
            return
        self._deliver_to(self._everything, event)
        if event.owner_id is not None and (owned := self._by_owner.get(event.owner_id)):
            self._deliver_to(owned, event)

    def _deliver_to(self, subscribers: set[Subscriber], event: ActivityEvent) -> None:
        for subscriber in tuple(subscribers):
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
        self.unsubscribe(subscriber)
        self.dropped_subscribers += 1
        # Free the memory now; the consumer sees SlowConsumer on its next read.
        subscriber.queue.clear()
        # Leave one item so a consumer about to read wakes up and sees SlowConsumer.
        subscriber.queue.put_nowait(event)
        if subscriber.on_overflow is not None:
            try:
                subscriber.on_overflow()
            except Exception:
                log.exception("slow-consumer callback failed")
