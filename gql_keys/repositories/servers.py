"""Queries on server heartbeats."""

from __future__ import annotations

from datetime import datetime

from tortoise.functions import Max

from gql_keys.models import ServerHeartbeat


async def beat(instance: str, started_at: datetime, now: datetime) -> None:
    """Record that ``instance`` serves this database now."""
    await ServerHeartbeat.update_or_create(
        defaults={"started_at": started_at, "seen_at": now}, instance=instance
    )


async def forget_before(cutoff: datetime) -> None:
    """Drop the rows of processes not seen since ``cutoff``."""
    await ServerHeartbeat.filter(seen_at__lt=cutoff).delete()


async def last_seen() -> datetime | None:
    """When any server last said it served this database, or None if never."""
    rows = await ServerHeartbeat.annotate(last=Max("seen_at")).values_list("last", flat=True)
    value = rows[0] if rows else None
    return value if isinstance(value, datetime) else None
