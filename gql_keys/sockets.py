"""Open WebSockets of this process: close codes and the registry of sockets.

The registry caps sockets per principal, closes a dashboard session's sockets when that
session ends (the hub hands it ``SESSION_ENDED``, which reaches every worker), and
re-checks the credential that opened sockets while any of them is open: one watchdog
per credential, not per socket (a user's 50 tabs share one session token, so 5,000 tabs
cost 100 checks per interval instead of 5,000). It holds only close callbacks and checks,
so it knows nothing of the ASGI server, Starlette or how a credential is checked.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("gql_keys.websockets")

CloseSocket = Callable[[int, str], Awaitable[None]]
CheckCredential = Callable[[], Awaitable[bool]]

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
    # The credential re-checked for this socket (see SocketRegistry.watch), once watched.
    credential: str | None = None


@dataclass(slots=True)
class Watchdog:
    """Re-checks one credential for every socket it opened; cancelled with the last one."""

    sockets: set[int]
    task: asyncio.Task[None] | None = None


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
        self._watchdogs: dict[str, Watchdog] = {}
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

    def watch(self, conn_id: int, credential: str, check: CheckCredential, every: float) -> None:
        """Re-check ``credential`` (a key naming it, e.g. its digest) every ``every``
        seconds while a socket it opened is open: when ``check`` says it no longer holds,
        every such socket is closed (4401). The first socket's ``check`` serves all; each
        socket is watched once, and a socket that is not registered is not watched."""
        conn = self._by_id.get(conn_id)
        if conn is None or conn.credential is not None:
            return
        conn.credential = credential
        watchdog = self._watchdogs.get(credential)
        if watchdog is None:
            watchdog = self._watchdogs[credential] = Watchdog(set())
            watchdog.task = asyncio.get_running_loop().create_task(
                self._watch_credentials(credential, check, every)
            )
        watchdog.sockets.add(conn_id)

    async def _watch_credentials(
        self, credential: str, check: CheckCredential, every: float
    ) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                if not await check():
                    break
            except Exception:  # e.g. the database is unreachable: check again later
                log.warning("re-checking a socket credential failed", exc_info=True)
        watchdog = self._watchdogs.pop(credential, None)
        for cid in sorted(watchdog.sockets) if watchdog is not None else ():
            conn = self._by_id.get(cid)
            if conn is not None:
                conn.credential = None  # its watchdog ends here, not by unregister
                self.unregister(cid)
                self.spawn_close(conn.close(CLOSE_UNAUTHORIZED, "Credentials expired or revoked"))

    def unregister(self, conn_id: int) -> None:
        conn = self._by_id.pop(conn_id, None)
        if conn is None:
            return
        if conn.credential is not None and (watchdog := self._watchdogs.get(conn.credential)):
            watchdog.sockets.discard(conn_id)
            if not watchdog.sockets:
                del self._watchdogs[conn.credential]
                if watchdog.task is not None:
                    watchdog.task.cancel()
        left = self._per_principal.get(conn.principal_key, 1) - 1
        if left > 0:
            self._per_principal[conn.principal_key] = left
        else:
            self._per_principal.pop(conn.principal_key, None)

    @property
    def watchdog_count(self) -> int:
        """Credentials being re-checked (one task each)."""
        return len(self._watchdogs)

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
