"""Making ``usage_logs`` partitions ahead on PostgreSQL (see repositories.usage_partitions).

Every worker sweeps every ``usage_partition_interval_seconds``: the advisory lock lets one
make what is missing, and the DEFAULT partition keeps any row that arrives before its
day's partition exists (the next sweep moves it into its own).
"""

from __future__ import annotations

import asyncio
import logging

from gql_keys.repositories import usage_partitions as repo
from gql_keys.runtime import Runtime

log = logging.getLogger("gql_keys.usage")

RETRY_SECONDS = 60.0


async def run(rt: Runtime) -> None:
    """Keep partitions made ahead until cancelled (nothing to do on SQLite)."""
    interval = rt.settings.usage_partition_interval_seconds
    if interval <= 0 or not repo.is_postgres():
        return
    while True:
        try:
            made = await repo.ensure_ahead(rt.clock.now(), rt.settings.usage_partition_ahead_days)
            if made:
                log.info("made usage_logs partitions for %s", ", ".join(map(str, made)))
            wait = interval
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("making usage_logs partitions failed; retrying")
            wait = min(interval, RETRY_SECONDS)
        await asyncio.sleep(wait)
