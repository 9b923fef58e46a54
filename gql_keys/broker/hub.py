"""Local fan-out: one broker subscription per process, a bounded queue per subscriber.

The broker hands every event this process hears to :meth:`Hub.deliver`, which copies it
into the queue of each subscriber whose filter accepts it. ``deliver`` never waits: a
subscriber whose queue is full is marked overflowed, dropped, and its ``on_overflow``
callback closes its WebSocket (close code :data:`CLOSE_SLOW_CONSUMER`), so one slow
client neither slows the others nor grows memory.

The hub also keeps the registry of open WebSockets (:class:`Connections`): it caps
connections per principal and closes a session's sockets when a ``SESSION_ENDED``
control event arrives. That event travels through the broker like any other, so a
logout on one worker closes the session's sockets on every worker; it is never handed
to subscribers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gql_keys.broker.events import ActivityEvent, ActivityKind

log = logging.getLogger("gql_keys.broker")

EventFilter = Callable[[ActivityEvent], bool]
CloseSocket = Callable[[int, str], Awaitable[None]]

# WebSocket close codes (4000-4999 are the application's to define).
CLOSE_UNAUTHORIZED = 4401  # no or invalid token in connection_init, or the session ended
CLOSE_FORBIDDEN = 4403  # authenticated, but this kind of principal may not subscribe
CLOSE_SLOW_CONSUMER = 4008  # the subscriber's queue overflowed (cf. 1008 policy violation)
CLOSE_TOO_MANY_CONNECTIONS = 4429  # connections per principal capped


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


@dataclass(slots=True)
class Connection:
    principal_key: str
    session_id: int | None
    close: CloseSocket


class Connections:
    """Open WebSockets of this process, by principal and by dashboard session."""

    def __init__(self, max_per_principal: int) -> None:
        self.max_per_principal = max_per_principal
        self._by_id: dict[int, Connection] = {}
        self._per_principal: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def register(
        self, conn_id: int, principal_key: str, session_id: int | None, close: CloseSocket
    ) -> bool:
        """Record an authenticated socket; False when the principal has too many open."""
        if conn_id in self._by_id:
            return True
        if self._per_principal.get(principal_key, 0) >= self.max_per_principal:
            return False
        self._by_id[conn_id] = Connection(principal_key, session_id, close)
        self._per_principal[principal_key] = self._per_principal.get(principal_key, 0) + 1
        return True

    def unregister(self, conn_id: int) -> None:
        conn = self._by_id.pop(conn_id, None)
        if conn is None:
            return
        left = self._per_principal.get(conn.principal_key, 1) - 1
        if left > 0:
            self._per_principal[conn.principal_key] = left
        else:
            self._per_principal.pop(conn.principal_key, None)

    def count(self, principal_key: str | None = None) -> int:
        if principal_key is None:
            return len(self._by_id)
        return self._per_principal.get(principal_key, 0)

    def close_session(self, session_id: int) -> int:
        """Close every socket of ``session_id`` (4401); returns how many were open."""
        doomed = [cid for cid, conn in self._by_id.items() if conn.session_id == session_id]
        for cid in doomed:
            conn = self._by_id[cid]
            self.unregister(cid)
            self._spawn(conn.close(CLOSE_UNAUTHORIZED, "Session ended"))
        return len(doomed)

    def _spawn(self, closing: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await closing
            except Exception:  # the socket may already be gone
                log.debug("closing a websocket failed", exc_info=True)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class Hub:
    """Receives every event of this process and hands each to the subscribers that want it."""

    def __init__(self, queue_size: int = 1000, max_connections_per_principal: int = 50) -> None:
        self.queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self.connections = Connections(max_connections_per_principal)
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
        if event.kind == ActivityKind.SESSION_ENDED:
            if event.session_id is not None:
                self.connections.close_session(event.session_id)
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
