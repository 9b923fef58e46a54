"""Queries on failure counters, shared by every worker through the database.

Every change is a single conditional ``UPDATE`` so that concurrent requests on any
worker neither lose counts nor block a subject twice for one run of failures.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from gql_keys.models import ThrottleCounter


async def get_counter(subject: str) -> ThrottleCounter | None:
    return await ThrottleCounter.get_or_none(subject=subject)


async def get_or_create_counter(subject: str, now: datetime) -> ThrottleCounter:
    counter = await ThrottleCounter.get_or_none(subject=subject)
    if counter is not None:
        return counter
    try:
        return await ThrottleCounter.create(
            subject=subject, failures=0, window_started_at=now, strikes=0
        )
    except IntegrityError:
        # Another request created it between our read and our insert.
        return await ThrottleCounter.get(subject=subject)


async def restart_window(
    subject: str, seen_window_start: datetime, now: datetime, *, forget_strikes: bool
) -> None:
    """Start a new counting window, unless another request already did."""
    changes: dict[str, object] = {"failures": 0, "window_started_at": now}
    if forget_strikes:
        changes["strikes"] = 0
    await ThrottleCounter.filter(subject=subject, window_started_at=seen_window_start).update(
        **changes
    )


async def add_failure(subject: str) -> ThrottleCounter:
    """Count one failure atomically; return the counter as it is afterwards."""
    await ThrottleCounter.filter(subject=subject).update(failures=F("failures") + 1)
    return await ThrottleCounter.get(subject=subject)


async def reserve(
    subject: str, limit: int, strikes_seen: int, window_seen: datetime, now: datetime
) -> bool:
    """Take one of the ``limit`` attempts of the counting window seen; False when none is left.

    Only while the subject is not blocked and the window and strikes are still the ones
    the caller saw, so a reservation always belongs to one run of the counter.
    """
    changed = await ThrottleCounter.filter(
        Q(blocked_until__isnull=True) | Q(blocked_until__lte=now),
        subject=subject,
        failures__lt=limit,
        strikes=strikes_seen,
        window_started_at=window_seen,
    ).update(failures=F("failures") + 1)
    return bool(changed)


async def release(subject: str, strikes_seen: int, window_seen: datetime) -> bool:
    """Give a reserved attempt back, unless the counter was restarted, blocked or cleared since."""
    changed = await ThrottleCounter.filter(
        subject=subject, failures__gt=0, strikes=strikes_seen, window_started_at=window_seen
    ).update(failures=F("failures") - 1)
    return bool(changed)


async def block(
    subject: str, limit: int, strikes_seen: int, now: datetime, until: datetime
) -> bool:
    """Block the subject when it reached ``limit`` failures; True for the request that did."""
    changed = await ThrottleCounter.filter(
        subject=subject, failures__gte=limit, strikes=strikes_seen
    ).update(failures=0, window_started_at=now, blocked_until=until, strikes=strikes_seen + 1)
    return bool(changed)


async def clear(subject: str) -> None:
    """Forget the failures and strikes of a subject (after a success)."""
    await ThrottleCounter.filter(subject=subject).update(failures=0, strikes=0, blocked_until=None)
