"""Open WebSockets of this process: close codes and the registry of sockets.

The registry caps sockets per principal and closes a dashboard session's sockets when
that session ends (the hub hands it ``SESSION_ENDED``, which reaches every worker).
It holds only close callbacks, so it knows nothing of the ASGI server or Starlette.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("gql_keys.websockets")

CloseSocket = Callable[[int, str], Awaitable[None]]

# WebSocket close codes (4000-4999 are the application's to define).
CLOSE_UNAUTHORIZED = 4401  # no or invalid token in connection_init, or the session ended
CLOSE_FORBIDDEN = 4403  # authenticated, but this kind of principal may not subscribe
CLOSE_SLOW_CONSUMER = 4008  # the subscriber's queue overflowed (cf. 1008 policy violation)
CLOSE_TOO_MANY_CONNECTIONS = 4429  # connections per principal capped


CLOSE_INIT_TIMEOUT = 4408  # no connection_init within ws_init_timeout_seconds
CLOSE_TOO_MANY_INITS = 4429  # a second connection_init on one socket


@dataclass(slots=True)
class Socket:
    principal_key: str
    session_id: int | None
    close: CloseSocket
    # The task re-checking the socket's credentials; exactly one, cancelled on unregister.
    watchdog: asyncio.Task[None] | None = None


class SocketRegistry:
    """Open WebSockets of this process, by principal and by dashboard session.

    Sockets are keyed by :meth:`new_id` (a process-wide counter kept in the socket's
    context), never by ``id()``, which a later socket may reuse after a missed
    :meth:`unregister`.
    """

    def __init__(self, max_per_principal: int) -> None:
        self.max_per_principal = max_per_principal
        self._ids = itertools.count(1)
        self._by_id: dict[int, Socket] = {}
        self._per_principal: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def new_id(self) -> int:
        """A key for one socket, unique in this process."""
        return next(self._ids)

    def register(
        self, conn_id: int, principal_key: str, session_id: int | None, close: CloseSocket
    ) -> bool:
        """Record an authenticated socket; False when the principal has too many open or
        ``conn_id`` is registered already (a socket registers once)."""
        if conn_id in self._by_id:
            return False
        if self._per_principal.get(principal_key, 0) >= self.max_per_principal:
            return False
        self._by_id[conn_id] = Socket(principal_key, session_id, close)
        self._per_principal[principal_key] = self._per_principal.get(principal_key, 0) + 1
        return True

    def watch(self, conn_id: int, watchdog: asyncio.Task[None]) -> None:
        """Make ``watchdog`` the one credential watchdog of a registered socket; it is
        cancelled when the socket is unregistered (at once if it is not registered)."""
        conn = self._by_id.get(conn_id)
        if conn is None:
            watchdog.cancel()
            return
        if conn.watchdog is not None and conn.watchdog is not watchdog:
            conn.watchdog.cancel()
        conn.watchdog = watchdog

    def unregister(self, conn_id: int) -> None:
        conn = self._by_id.pop(conn_id, None)
        if conn is None:
            return
        if conn.watchdog is not None:
            conn.watchdog.cancel()
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
            self.spawn_close(conn.close(CLOSE_UNAUTHORIZED, "Session ended"))
        return len(doomed)

    def spawn_close(self, closing: Awaitable[None]) -> None:
        """Run ``closing`` (a socket's close) in the background, holding its task."""

        async def run() -> None:
            try:
                await closing
            except Exception:  # the socket may already be gone
                log.debug("closing a websocket failed", exc_info=True)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
