"""Counting failures per subject and blocking, with a back-off that grows.

A subject is a string such as ``login:account:<e-mail>``, ``login:address:<ip>`` or
``totp:<user id>``. Counters live in the shared database, so every worker, connection
and alias of an operation counts against the same limit.

Once a subject reaches ``max_failures`` within the window it is blocked for
``base * 2**strikes`` seconds (capped); each block adds a strike and restarts the
count, so a persistent attacker waits longer and longer. Strikes are forgotten after a
success or after a whole quiet window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gql_keys.errors import DomainError, ErrorCode
from gql_keys.repositories import throttle as repo
from gql_keys.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Limit:
    max_failures: int
    window_seconds: int


def backoff_seconds(rt: Runtime, strikes: int) -> int:
    """How long the ``strikes``-th block (0-based) lasts."""
    base = rt.settings.throttle_backoff_base_seconds
    ceiling = rt.settings.throttle_backoff_max_seconds
    return int(min(ceiling, base * 2 ** min(strikes, 32)))


async def blocked_until(rt: Runtime, subject: str) -> datetime | None:
    """When the block on ``subject`` ends, or None when it is not blocked."""
    counter = await repo.get_counter(subject)
    if counter is None or counter.blocked_until is None:
        return None
    if counter.blocked_until <= rt.clock.now():
        return None
    return counter.blocked_until


def too_many_attempts(
    rt: Runtime, until: datetime, field: Sequence[str] | None = None
) -> DomainError:
    wait = max(1, math.ceil((until - rt.clock.now()).total_seconds()))
    return DomainError(
        ErrorCode.TOO_MANY_ATTEMPTS,
        f"Too many failed attempts; try again in {wait} seconds.",
        field,
    )


async def ensure_not_blocked(
    rt: Runtime, subjects: Sequence[str], field: Sequence[str] | None = None
) -> None:
    """Raise ``TOO_MANY_ATTEMPTS`` when any of ``subjects`` is blocked."""
    latest: datetime | None = None
    for subject in subjects:
        until = await blocked_until(rt, subject)
        if until is not None and (latest is None or until > latest):
            latest = until
    if latest is not None:
        raise too_many_attempts(rt, latest, field)


async def record_failure(rt: Runtime, subject: str, limit: Limit) -> bool:
    """Count one failure; block the subject when it reaches the limit.

    Returns True when the subject is blocked from now on.
    """
    now = rt.clock.now()
    window = timedelta(seconds=limit.window_seconds)
    counter = await repo.get_or_create_counter(subject, now)
    if counter.window_started_at + window <= now:
        quiet = counter.blocked_until is None or counter.blocked_until + window <= now
        await repo.restart_window(subject, counter.window_started_at, now, forget_strikes=quiet)
    counter = await repo.add_failure(subject)
    if counter.failures < limit.max_failures:
        return False
    until = now + timedelta(seconds=backoff_seconds(rt, counter.strikes))
    await repo.block(subject, limit.max_failures, counter.strikes, now, until)
    return True


async def clear(subject: str) -> None:
    """Forget a subject's failures after a success."""
    await repo.clear(subject)
