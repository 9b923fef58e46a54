"""Quarantine: a key whose secret may be out keeps reading and cancelling orders, and
nothing else, until its owner rolls it, releases it or deletes it.

A key is quarantined by its owner (``quarantineApiKey``, reason ``OWNER``: no code, it
only narrows), or because its secret was reported (secret scanning or
``gql-keys keys report-leak``, reason ``LEAK_REPORTED``). What a quarantined key may still
do is decided at verification (:mod:`gql_keys.services.verification`). Leaving it:
``releaseApiKey`` opens a ``RELEASE_KEY`` challenge bound to this very quarantine (a
challenge opened before a later quarantine, or before a leak report upgraded it, expires);
a roll confirmed while quarantined ends the overlap at once and releases the key
(:func:`gql_keys.services.key_changes.apply_roll`); a delete ends everything. Each change
writes its security event in its transaction; after commit every worker drops its cached
copy of the key (as a delete does) and the activity event is published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from gql_keys.broker.events import ActivityKind
from gql_keys.db import transaction
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import ApiKey
from gql_keys.repositories import keys as repo
from gql_keys.runtime import Runtime
from gql_keys.services import canaries, key_changes, secret_lookups
from gql_keys.services.key_challenges import (
    Challenge,
    ChallengePurpose,
    check_open_challenges,
    open_challenge,
    require_two_factor,
)
from gql_keys.services.security_events import ClientInfo, SecurityEventKind, record


class QuarantineReason(StrEnum):
    LEAK_REPORTED = "LEAK_REPORTED"
    OWNER = "OWNER"


RELEASED: dict[str, Any] = {"quarantined_at": None, "quarantine_reason": None}


async def quarantine_key(rt: Runtime, user_id: int, api_key_id: int, client: ClientInfo) -> ApiKey:
    """The owner's panic button: quarantine one of their keys at once (no code). A key
    already quarantined stays as it is."""
    now = rt.clock.now()
    async with transaction(rt.settings):
        row = await key_changes.lock_changeable(user_id, api_key_id, now)
        if row.canary:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                "A canary key never verifies: there is nothing to quarantine.",
                ("input", "id"),
            )
        if row.quarantined_at is not None:
            return row
        fields = {"quarantined_at": now, "quarantine_reason": QuarantineReason.OWNER.value}
        await repo.change_key(row, fields)
        await record(rt, user_id, SecurityEventKind.KEY_QUARANTINED, client, api_key=row)
    await key_changes.announce(rt, row, ActivityKind.KEY_QUARANTINED)
    return row


async def release_key(rt: Runtime, user_id: int, api_key_id: int) -> Challenge:
    """Open the RELEASE_KEY challenge that ends this key's quarantine (a false alarm)."""
    now = rt.clock.now()
    async with transaction(rt.settings):
        row = await key_changes.lock_changeable(user_id, api_key_id, now)
        if row.quarantined_at is None:
            raise DomainError(
                ErrorCode.INVALID_INPUT, "This key is not quarantined.", ("input", "id")
            )
        await require_two_factor(user_id, "release a key")
        await check_open_challenges(rt, user_id, now)
        return await open_challenge(
            rt,
            user_id,
            row.id,
            ChallengePurpose.RELEASE_KEY,
            now,
            {"quarantined_at": row.quarantined_at.isoformat()},
            key_revision=row.revision,
        )


async def apply_release(row: ApiKey, payload: Mapping[str, Any]) -> None:
    """End the quarantine the confirmed challenge was opened for, on the locked ``row``."""
    stamp = payload.get("quarantined_at")
    current = row.quarantined_at
    if current is None or not isinstance(stamp, str) or datetime.fromisoformat(stamp) != current:
        raise DomainError(
            ErrorCode.CHALLENGE_EXPIRED,
            "The key's quarantine changed since this challenge was issued: start again.",
            ("input", "challengeId"),
        )
    await repo.change_key(row, RELEASED)


@dataclass(frozen=True, slots=True)
class LeakOutcome:
    """What a reported secret turned out to be."""

    key: str  # the public KEY identifier
    canary: bool
    newly_quarantined: bool


async def report_leaks(
    rt: Runtime, secrets: list[str], client: ClientInfo | None, path: str | None = None
) -> dict[str, LeakOutcome]:
    """Quarantine the live key of each reported secret (reason LEAK_REPORTED); a canary's
    secret raises CANARY_TRIPPED instead. ``client`` and ``path``: who reported it over
    HTTP and where (None: the command line). ``secret -> outcome`` for the secrets that
    are a live key's; the others are absent."""
    matches = await secret_lookups.live_keys_with_secrets(rt, secrets)
    outcomes: dict[str, LeakOutcome] = {}
    for secret, match in matches.items():
        row = match.row
        if row.canary:
            ip = client.ip if client is not None else None
            method = "POST" if path is not None else None
            await canaries.tripped(rt, row, ip, method, path, rt.clock.time())
            outcomes[secret] = LeakOutcome(row.key, canary=True, newly_quarantined=False)
            continue
        quarantined = await _quarantine_leaked(rt, row.id, client)
        if quarantined is None:
            continue  # deleted or changed meanwhile
        outcomes[secret] = LeakOutcome(row.key, canary=False, newly_quarantined=quarantined)
    return outcomes


async def _quarantine_leaked(
    rt: Runtime, api_key_id: int, client: ClientInfo | None
) -> bool | None:
    """Quarantine one key for a leak; whether it changed (an OWNER quarantine becomes a
    LEAK_REPORTED one, restarting it), None when the key is no longer live."""
    now = rt.clock.now()
    async with transaction(rt.settings):
        row = await repo.lock_any_live_key(api_key_id)
        if row is None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.quarantine_reason == QuarantineReason.LEAK_REPORTED.value:
            return False
        fields = {
            "quarantined_at": now,
            "quarantine_reason": QuarantineReason.LEAK_REPORTED.value,
        }
        await repo.change_key(row, fields)
        await record(rt, row.user_id, SecurityEventKind.KEY_QUARANTINED, client, api_key=row)
    await key_changes.announce(rt, row, ActivityKind.KEY_QUARANTINED)
    return True
