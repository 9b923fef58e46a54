"""Which database a running server uses.

Every ``gql-keys serve`` worker writes a heartbeat row into its database when it starts
and every minute after; the command line reads when a server last did, and warns when
none did lately: it is then likely talking to a database no server reads. Heartbeats use
the wall clock, not the runtime's clock: they are about real processes.
"""

from __future__ import annotations

import asyncio
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


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[-128:]


async def run() -> None:
    """Beat now and every ``HEARTBEAT_SECONDS`` until cancelled."""
    instance, started_at = instance_name(), datetime.now(UTC)
    while True:
        now = datetime.now(UTC)
        try:
            await repo.beat(instance, started_at, now)
            await repo.forget_before(now - FORGET_AFTER)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "server heartbeat not written (%s); retrying in a minute", type(exc).__name__
            )
        await asyncio.sleep(HEARTBEAT_SECONDS)


async def last_seen() -> datetime | None:
    """When a server last said it served this database (None: never, or not for a day)."""
    return await repo.last_seen()


def served_lately(last: datetime | None, now: datetime) -> bool:
    return last is not None and now - last <= SERVED_WITHIN
