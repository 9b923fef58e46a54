"""Which database a running server uses.

Every ``gql-keys serve`` worker writes a heartbeat row into its database when it starts
and every minute after; the command line reads when a server last did, and warns when
none did lately: it is then likely talking to a database no server reads. Heartbeats use
the wall clock, not the runtime's clock: they are about real processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import UTC, datetime, timedelta

from gql_keys.repositories import servers as repo

log = logging.getLogger("gql_keys.servers")

HEARTBEAT_SECONDS = 60
# The command line warns when no server beat for this long.
SERVED_WITHIN = timedelta(minutes=5)
FORGET_AFTER = timedelta(days=1)
# How long shutting down waits for a beat under way (a database that hangs).
STOP_TIMEOUT_SECONDS = 10


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[-128:]


async def beat(instance: str, started_at: datetime) -> None:
    """Say once that this process serves its database; a failure is logged, not raised."""
    now = datetime.now(UTC)
    try:
        await repo.beat(instance, started_at, now)
        await repo.forget_before(now - FORGET_AFTER)
    except Exception as exc:
        log.warning("server heartbeat not written (%s); retrying in a minute", type(exc).__name__)


class Heartbeat:
    """This process's heartbeat: the first beat is awaited at start-up (a beat racing the
    first request could open a second SQLite connection), then one a minute until
    :meth:`stop`, which waits for a beat under way rather than cancel it halfway."""

    def __init__(self) -> None:
        self.instance, self.started_at = instance_name(), datetime.now(UTC)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(beat(self.instance, self.started_at), STOP_TIMEOUT_SECONDS)
        self._task = asyncio.create_task(self._run(), name="server-heartbeat")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, STOP_TIMEOUT_SECONDS)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), HEARTBEAT_SECONDS)
            if self._stop.is_set():
                return
            await beat(self.instance, self.started_at)


async def last_seen() -> datetime | None:
    """When a server last said it served this database (None: never, or not for a day)."""
    return await repo.last_seen()


def served_lately(last: datetime | None, now: datetime) -> bool:
    return last is not None and now - last <= SERVED_WITHIN
