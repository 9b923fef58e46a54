"""Counting failures per subject and blocking, with a back-off that grows.

A subject is a string such as ``login:account:<e-mail>``, ``login:address:<ip>`` or
``totp:<user id>``. Counters live in the shared database, so every worker, connection
and alias of an operation counts against the same limit.

Once a subject reaches ``max_failures`` within the window it is blocked for
``base * 2**strikes`` seconds (capped); each block adds a strike and restarts the
count, so a persistent attacker waits longer and longer. Strikes are forgotten after a
success or after a whole quiet window.

An attempt is counted *before* the password or code is checked (``reserve``): a single
conditional ``UPDATE`` takes one of the attempts left, so however many requests arrive
at once on however many workers, at most ``max_failures`` of them are ever checked per
run. After the check the reservation either stays as the failure (``failed``, which
blocks a full subject) or is given back (``release``) / wiped (``clear``). While every
attempt left is being checked by other requests, a request waits a little for them to
finish (a burst of right answers must not lock anybody out) and, if they do not, blocks
the subject. A reservation whose request dies half-way stays counted (fails closed).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import ThrottleCounter
from gql_keys.repositories import throttle as repo
from gql_keys.runtime import Runtime

# How long a request waits for the attempts other requests are checking right now
# before it gives up and blocks the subject (wall time, not ``rt.clock``).
RESERVE_WAIT_SECONDS = 5.0
_FIRST_PAUSE_SECONDS = 0.01
_MAX_PAUSE_SECONDS = 0.1


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


@dataclass(frozen=True, slots=True)
class Reservation:
    """One attempt taken from a subject's counter, in the run identified by strikes/window."""

    subject: str
    limit: Limit
    strikes: int
    window_started_at: datetime


def _is_blocked(counter: ThrottleCounter, now: datetime) -> bool:
    return counter.blocked_until is not None and counter.blocked_until > now


async def _block_if_full(rt: Runtime, subject: str, limit: Limit) -> datetime | None:
    """Block ``subject`` when it has no attempt left; return when its block ends, or None."""
    now = rt.clock.now()
    counter = await repo.get_counter(subject)
    if counter is None:
        return None
    if _is_blocked(counter, now):
        return counter.blocked_until
    if counter.failures < limit.max_failures:
        return None
    until = now + timedelta(seconds=backoff_seconds(rt, counter.strikes))
    if await repo.block(subject, limit.max_failures, counter.strikes, now, until):
        return until
    # Another request blocked (or cleared) it first.
    counter = await repo.get_counter(subject)
    if counter is not None and _is_blocked(counter, now):
        return counter.blocked_until
    return None


async def reserve(
    rt: Runtime, subject: str, limit: Limit, field: Sequence[str] | None = None
) -> Reservation:
    """Count one attempt on ``subject`` before checking it, or raise ``TOO_MANY_ATTEMPTS``.

    The counter row is created when missing and its window restarted when it has passed
    (strikes are forgotten after a quiet window), exactly as ``record_failure`` does.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RESERVE_WAIT_SECONDS
    pause = _FIRST_PAUSE_SECONDS
    window = timedelta(seconds=limit.window_seconds)
    while True:
        now = rt.clock.now()
        counter = await repo.get_or_create_counter(subject, now)
        if counter.blocked_until is not None and _is_blocked(counter, now):
            raise too_many_attempts(rt, counter.blocked_until, field)
        if counter.window_started_at + window <= now:
            quiet = counter.blocked_until is None or counter.blocked_until + window <= now
            await repo.restart_window(subject, counter.window_started_at, now, forget_strikes=quiet)
            continue
        if counter.failures < limit.max_failures:
            if await repo.reserve(
                subject, limit.max_failures, counter.strikes, counter.window_started_at, now
            ):
                return Reservation(subject, limit, counter.strikes, counter.window_started_at)
            # Another request changed the counter meanwhile: look again.
        elif loop.time() >= deadline:
            # Every attempt left is still being checked by other requests (or their
            # requests died): the subject has used up its attempts.
            until = await _block_if_full(rt, subject, limit)
            if until is not None:
                raise too_many_attempts(rt, until, field)
        else:
            # Every attempt left is being checked by other requests. Wait for them:
            # failures block the subject, right answers give their attempts back.
            await asyncio.sleep(pause)
            pause = min(pause * 2, _MAX_PAUSE_SECONDS)
        if loop.time() >= deadline + RESERVE_WAIT_SECONDS:
            # Never spin for ever on a counter that keeps changing.
            raise too_many_attempts(rt, now + timedelta(seconds=1), field)


async def reserve_all(
    rt: Runtime, subjects: Sequence[tuple[str, Limit]], field: Sequence[str] | None = None
) -> list[Reservation]:
    """Reserve one attempt on each subject, or none at all (``TOO_MANY_ATTEMPTS``)."""
    await ensure_not_blocked(rt, [subject for subject, _ in subjects], field)
    held: list[Reservation] = []
    try:
        for subject, limit in subjects:
            held.append(await reserve(rt, subject, limit, field))
    except DomainError:
        await release(held)
        raise
    return held


async def failed(rt: Runtime, reservations: Iterable[Reservation]) -> None:
    """The attempts were wrong: keep them counted and block subjects that are now full."""
    for reservation in reservations:
        await _block_if_full(rt, reservation.subject, reservation.limit)


async def release(reservations: Iterable[Reservation]) -> None:
    """The attempts were not guesses (right answers): give them back."""
    for reservation in reservations:
        await repo.release(reservation.subject, reservation.strikes, reservation.window_started_at)


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
