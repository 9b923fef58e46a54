"""Cooling-off before withdrawals: ``WITHDRAW`` granted to a key, or a wider allowlist on
a key holding it, takes effect only ``withdraw_cooling_off_seconds`` after it is confirmed.

A key has the terms its owner confirmed (its *eventual* scopes and allowlist) and the
terms in force: the same, minus the WITHDRAW effect while it cools off. A change is
planned over the eventual terms (so a new label on a key whose WITHDRAW is cooling off is
no widening) and then split (:func:`plan_terms`): what it does without that effect applies
at once, and its scopes and allowlist are stored as the key's pending change with the time
they take effect (``pending_*`` columns; ``pendingChange`` in the API). A change that asks
for no more than the pending one keeps its time; one that asks for more cools off anew; one
that no longer grants the effect drops it. :func:`cancel` drops it at once.

Every worker sweeps (:func:`run`): it wakes when the earliest change it knows of is due, or
every ``cooling_off_interval_seconds``. A change is applied by the one worker whose
conditional UPDATE (``WHERE pending_effective_at = <as read>``) changed the row: the
database decides, as for ``KEY_EXPIRING``. That worker writes a ``KEY_UPDATED`` security
event in the same transaction, then every worker forgets its cached copy of the key and
``KEY_UPDATED`` is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gql_keys.broker.events import ActivityKind
from gql_keys.db import transaction
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import ApiKey
from gql_keys.repositories import keys as repo
from gql_keys.runtime import Runtime
from gql_keys.scopes import Scope
from gql_keys.services.key_challenges import key_event
from gql_keys.services.key_updates import allowlist_widens
from gql_keys.services.security_events import ClientInfo, SecurityEventKind, record

log = logging.getLogger("gql_keys.cooling_off")

SWEEP_BATCH = 500
MIN_WAIT_SECONDS = 0.05
WITHDRAW = Scope.WITHDRAW.value
NO_PENDING_CHANGE: dict[str, Any] = {
    "pending_scopes": None,
    "pending_ip_allowlist": None,
    "pending_effective_at": None,
}


@dataclass(frozen=True, slots=True)
class TermsChange:
    """The columns a change of terms writes, and what it did to the pending change."""

    fields: dict[str, Any]
    started: bool  # a cooling-off (re)started: KEY_CHANGE_PENDING
    dropped: bool  # a pending change ends without taking effect: KEY_CHANGE_CANCELLED


@dataclass(frozen=True, slots=True)
class Split:
    """What a confirmed change puts in force now, and what waits (None: nothing)."""

    scopes: list[str]
    ip_allowlist: list[str]
    pending: dict[str, Any] | None

    def fields(self) -> dict[str, Any]:
        return {
            "scopes": self.scopes,
            "ip_allowlist": self.ip_allowlist,
            **(self.pending if self.pending is not None else NO_PENDING_CHANGE),
        }


def split(
    rt: Runtime,
    current_scopes: Sequence[str],
    current_allowlist: Sequence[str],
    scopes: Sequence[str],
    ip_allowlist: Sequence[str],
    now: datetime,
) -> Split:
    """Split the change from the key's current scopes and allowlist (both empty for a new
    key) to ``scopes`` and ``ip_allowlist``, both validated by creation's policy."""
    target_scopes, target_allowlist = list(scopes), list(ip_allowlist)
    seconds = rt.settings.withdraw_cooling_off_seconds
    if seconds <= 0 or WITHDRAW not in target_scopes:
        return Split(target_scopes, target_allowlist, None)
    if WITHDRAW not in current_scopes:
        in_force = Split([s for s in target_scopes if s != WITHDRAW], target_allowlist, None)
    elif current_allowlist and allowlist_widens(current_allowlist, target_allowlist):
        in_force = Split(target_scopes, list(current_allowlist), None)
    else:
        return Split(target_scopes, target_allowlist, None)
    pending = {
        "pending_scopes": target_scopes,
        "pending_ip_allowlist": target_allowlist,
        "pending_effective_at": now + timedelta(seconds=seconds),
    }
    return Split(in_force.scopes, in_force.ip_allowlist, pending)


def has_pending_change(row: ApiKey) -> bool:
    return row.pending_effective_at is not None


def eventual_terms(row: ApiKey) -> tuple[list[str], list[str]]:
    """The scopes and allowlist the owner confirmed: pending ones included."""
    if row.pending_scopes is not None and row.pending_ip_allowlist is not None:
        return list(row.pending_scopes), list(row.pending_ip_allowlist)
    return list(row.scopes or ()), list(row.ip_allowlist or ())


def _asks_no_more(
    scopes: Sequence[str], allowlist: Sequence[str], than: tuple[list[str], list[str]]
) -> bool:
    pending_scopes, pending_allowlist = than
    return set(scopes) <= set(pending_scopes) and not allowlist_widens(pending_allowlist, allowlist)


def plan_terms(
    rt: Runtime, row: ApiKey, scopes: Sequence[str], ip_allowlist: Sequence[str], now: datetime
) -> TermsChange:
    """The change of ``row`` (terms in force, and any pending change) to the eventual
    ``scopes`` and ``ip_allowlist``, validated by creation's policy."""
    parts = split(rt, row.scopes or (), row.ip_allowlist or (), scopes, ip_allowlist, now)
    pending_before = has_pending_change(row)
    if parts.pending is None:
        return TermsChange(parts.fields(), started=False, dropped=pending_before)
    if pending_before and _asks_no_more(scopes, ip_allowlist, eventual_terms(row)):
        parts.pending["pending_effective_at"] = row.pending_effective_at
        return TermsChange(parts.fields(), started=False, dropped=False)
    return TermsChange(parts.fields(), started=True, dropped=False)


async def record_terms_change(
    rt: Runtime, row: ApiKey, change: TermsChange, client: ClientInfo | None
) -> list[ActivityKind]:
    """Inside the change's transaction: the security events of what ``change`` did to the
    pending change; the activity events to publish after commit."""
    if change.started:
        await record(rt, row.user_id, SecurityEventKind.KEY_CHANGE_PENDING, client, api_key=row)
        return [ActivityKind.KEY_CHANGE_PENDING]
    if change.dropped:
        await record(rt, row.user_id, SecurityEventKind.KEY_CHANGE_CANCELLED, client, api_key=row)
        return [ActivityKind.KEY_CHANGE_CANCELLED]
    return []


async def started(rt: Runtime, row: ApiKey, client: ClientInfo | None) -> None:
    """Inside the change's transaction: the security event of a change now cooling off."""
    await record(rt, row.user_id, SecurityEventKind.KEY_CHANGE_PENDING, client, api_key=row)


async def dropped(rt: Runtime, row: ApiKey, client: ClientInfo | None) -> None:
    """Inside the change's transaction: the security event of a pending change dropped."""
    await record(rt, row.user_id, SecurityEventKind.KEY_CHANGE_CANCELLED, client, api_key=row)


async def announce_started(rt: Runtime) -> None:
    """After commit: this worker's sweep learns when the new change is due."""
    rt.cooling_off_changed.set()


async def cancel(rt: Runtime, user_id: int, api_key_id: int, client: ClientInfo) -> ApiKey:
    """Drop the pending change of one of the user's keys at once (it only narrows what
    the key will have, so no code is asked)."""
    async with transaction(rt.settings):
        row = await repo.lock_live_key(api_key_id, user_id)
        if row is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No such key.", ("input", "id"))
        if not has_pending_change(row):
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                "This key has no pending change (it may just have taken effect).",
                ("input", "id"),
            )
        await repo.change_key(row, NO_PENDING_CHANGE)
        await record(rt, user_id, SecurityEventKind.KEY_CHANGE_CANCELLED, client, api_key=row)
    await rt.broker.publish([key_event(rt, ActivityKind.KEY_CHANGE_CANCELLED, row)])
    return row


async def apply_due(rt: Runtime) -> int:
    """Put every due change in force (each by exactly one worker); how many this call did."""
    now = rt.clock.now()
    applied = 0
    while True:
        rows = await repo.due_pending_changes(now, SWEEP_BATCH)
        for row in rows:
            effective_at = row.pending_effective_at
            assert effective_at is not None
            async with transaction(rt.settings):
                if not await repo.claim_pending_change(row.id, effective_at):
                    continue
                await record(rt, row.user_id, SecurityEventKind.KEY_UPDATED, None, api_key=row)
            await rt.key_invalidator.key_changed(row.key)
            await rt.broker.publish([key_event(rt, ActivityKind.KEY_UPDATED, row)])
            applied += 1
        if len(rows) < SWEEP_BATCH:
            return applied


async def _next_wait(rt: Runtime) -> float:
    """Seconds until the earliest pending change is due, at most the sweep interval."""
    interval = rt.settings.cooling_off_interval_seconds
    due = await repo.next_pending_change_at()
    if due is None:
        return interval
    return max(0.0, min(interval, (due - rt.clock.now()).total_seconds()))


async def run(rt: Runtime) -> None:
    """Apply due changes until cancelled (nothing to do when cooling-off is off and no
    change is pending)."""
    if rt.settings.cooling_off_interval_seconds <= 0:
        return
    while True:
        # Cleared before reading, so a change started meanwhile wakes the wait below.
        rt.cooling_off_changed.clear()
        try:
            await apply_due(rt)
            wait = max(MIN_WAIT_SECONDS, await _next_wait(rt))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("cooling-off sweep failed; retrying at the next interval")
            wait = rt.settings.cooling_off_interval_seconds
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await rt.cooling_off_changed.wait()
