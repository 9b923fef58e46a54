"""Changing a key after creation: update its terms, roll its secret.

``update_key`` applies a change that only narrows access at once; a widening change is
stored with an UPDATE_KEY challenge and applied by :func:`apply_update` when the
owner confirms it with a code, after planning it again against the key as it is then
(creation's policy re-checked, the expiry cap counted from the confirmation).
``roll_key`` always opens a ROLL_KEY challenge; :func:`apply_roll` swaps the key
material and keeps the old one verifying for the requested overlap (none when the key is
quarantined: the roll then ends the quarantine too). Every change goes through
:func:`repositories.keys.change_key`, which bumps the key's revision: a challenge confirms
only the revision it was opened on, so an older request never undoes a later change.
Either way a ``KEY_UPDATED`` / ``KEY_ROLLED`` security event is written in the change's
transaction; after commit every worker forgets its cached copy of the key
(:meth:`KeyInvalidator.key_changed`, as a delete does) and the activity event of that
name is published.

Changes are planned over the key's eventual terms (a pending change included) and their
scopes and allowlist go through :func:`cooling_off.plan_terms`: a grant of ``WITHDRAW``
(or a wider allowlist on a key holding it) waits as the key's pending change.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gql_keys.broker.events import ActivityKind
from gql_keys.db import transaction
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import ApiKey
from gql_keys.repositories import keys as repo
from gql_keys.runtime import Runtime
from gql_keys.security.keymaterial import new_secret, secret_aad
from gql_keys.security.signing import parse_ed25519_public_key
from gql_keys.services import cooling_off
from gql_keys.services.key_challenges import (
    Challenge,
    ChallengePurpose,
    check_open_challenges,
    key_event,
    open_challenge,
    require_two_factor,
)
from gql_keys.services.key_policy import KeyAlgorithm
from gql_keys.services.key_updates import (
    KeyUpdateRequest,
    PlannedUpdate,
    is_empty,
    plan_update,
    request_from_payload,
    terms_of,
    update_payload,
    validate_overlap,
)
from gql_keys.services.secret_lookups import lookup_fields
from gql_keys.services.security_events import ClientInfo, SecurityEventKind, record


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """Exactly one is set: the key as changed, or the challenge that would change it."""

    api_key: ApiKey | None = None
    challenge: Challenge | None = None


async def lock_changeable(
    user_id: int, api_key_id: int, now: datetime, id_field: str = "id"
) -> ApiKey:
    """The user's live key, locked for the transaction; NOT_FOUND for anything else."""
    row = await repo.lock_live_key(api_key_id, user_id)
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such key.", ("input", id_field))
    if row.expires_at is not None and row.expires_at <= now:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "This key has expired: create a new one.", ("input", id_field)
        )
    return row


async def announce(rt: Runtime, row: ApiKey, *kinds: ActivityKind) -> None:
    """After commit: every worker drops its cached copy, then the events go out."""
    await rt.key_invalidator.key_changed(row.key)
    await rt.broker.publish([key_event(rt, kind, row) for kind in kinds])
    if ActivityKind.KEY_CHANGE_PENDING in kinds:
        await cooling_off.announce_started(rt)


async def update_key(
    rt: Runtime, user_id: int, api_key_id: int, request: KeyUpdateRequest, client: ClientInfo
) -> UpdateResult:
    """Apply a narrowing change now; for a widening one, return an UPDATE_KEY challenge."""
    now = rt.clock.now()
    async with transaction(rt.settings):
        row = await lock_changeable(user_id, api_key_id, now)
        if is_empty(request):
            return UpdateResult(api_key=row)
        planned = plan_update(terms_of(row), request, rt.settings, now)
        if planned.widening:
            await require_two_factor(user_id, "widen a key")
            await check_open_challenges(rt, user_id, now)
            challenge = await open_challenge(
                rt,
                user_id,
                row.id,
                ChallengePurpose.UPDATE_KEY,
                now,
                update_payload(request, planned),
                key_revision=row.revision,
            )
            return UpdateResult(challenge=challenge)
        if not planned.changed:
            return UpdateResult(api_key=row)
        kinds = await _apply(rt, row, planned, now, client)
        await record(rt, user_id, SecurityEventKind.KEY_UPDATED, client, api_key=row)
    await announce(rt, row, ActivityKind.KEY_UPDATED, *kinds)
    return UpdateResult(api_key=row)


async def _apply(
    rt: Runtime, row: ApiKey, planned: PlannedUpdate, now: datetime, client: ClientInfo
) -> list[ActivityKind]:
    """Store a planned change on the locked ``row``, its WITHDRAW effect cooling off; the
    activity events of what it did to a pending change."""
    spec = planned.spec
    terms = cooling_off.plan_terms(rt, row, spec.scopes, spec.ip_allowlist, now)
    fields = {
        **planned.fields(),
        **_expiry_notice_reset(rt, row, spec.expires_at, now),
        **terms.fields,
    }
    kinds = await cooling_off.record_terms_change(rt, row, terms, client)
    await repo.change_key(row, fields)
    return kinds


def _expiry_notice_reset(
    rt: Runtime, row: ApiKey, expires_at: datetime | None, now: datetime
) -> dict[str, Any]:
    """A key moved out of its notice window (as of ``now``) gets a KEY_EXPIRING again
    when it re-enters."""
    if row.expiry_notified_at is None:
        return {}
    window = timedelta(days=rt.settings.expiry_notice_days)
    if expires_at is None or expires_at > now + window:
        return {"expiry_notified_at": None}
    return {}


async def apply_update(
    rt: Runtime, row: ApiKey, payload: Mapping[str, Any], now: datetime, client: ClientInfo
) -> list[ActivityKind]:
    """Apply a confirmed UPDATE_KEY change to the locked ``row`` (policy checked again);
    a grant of WITHDRAW in it cools off. The activity events beyond KEY_UPDATED."""
    planned = plan_update(terms_of(row), request_from_payload(payload), rt.settings, now)
    return await _apply(rt, row, planned, now, client)


def _new_public_key(row: ApiKey, public_key: str | None) -> str | None:
    """The base64 raw public key an ED25519 roll installs; None for HMAC keys."""
    if row.algorithm == KeyAlgorithm.ED25519.value:
        raw = parse_ed25519_public_key(public_key) if public_key else None
        if raw is None:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                "An ED25519 key is rolled to a new public key (PEM, or base64 of the 32 raw "
                "bytes).",
                ("input", "publicKey"),
            )
        return base64.b64encode(raw).decode("ascii")
    if public_key is not None:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "Only ED25519 keys carry a public key; an HMAC key gets a new secret.",
            ("input", "publicKey"),
        )
    return None


async def roll_key(
    rt: Runtime, user_id: int, api_key_id: int, overlap_seconds: int, public_key: str | None
) -> Challenge:
    """Open the ROLL_KEY challenge that will replace the key's secret or public key."""
    now = rt.clock.now()
    overlap = validate_overlap(overlap_seconds)
    async with transaction(rt.settings):
        row = await lock_changeable(user_id, api_key_id, now)
        new_public = _new_public_key(row, public_key)
        await require_two_factor(user_id, "roll a key")
        await check_open_challenges(rt, user_id, now)
        return await open_challenge(
            rt,
            user_id,
            row.id,
            ChallengePurpose.ROLL_KEY,
            now,
            {"overlap_seconds": overlap, "public_key": new_public},
            key_revision=row.revision,
        )


async def apply_roll(
    rt: Runtime, row: ApiKey, payload: Mapping[str, Any], now: datetime
) -> str | None:
    """Install new key material on the locked ``row``; the new HMAC secret, shown once.

    The material in force becomes the previous one until ``now + overlap`` (none with an
    overlap of 0, or when the key is quarantined: its secret may be out, so it dies now
    and the key is released); a previous one still in its overlap is dropped at once.
    """
    quarantined = row.quarantined_at is not None
    overlap = 0 if quarantined else int(payload.get("overlap_seconds", 0))
    secret: str | None = None
    fields: dict[str, Any] = {
        "previous_secret_sealed": None,
        "previous_public_key": None,
        "previous_secret_expires_at": None,
        "rolled_at": now,
        "secret_lookup": None,
        "previous_secret_lookup": None,
    }
    if quarantined:
        fields.update(quarantined_at=None, quarantine_reason=None)
    if overlap > 0:
        fields["previous_secret_expires_at"] = now + timedelta(seconds=overlap)
    if row.algorithm == KeyAlgorithm.ED25519.value:
        fields["public_key"] = payload["public_key"]
        if overlap > 0:
            fields["previous_public_key"] = row.public_key
    else:
        secret = new_secret()
        fields["secret_sealed"] = rt.secretbox.seal(secret.encode(), aad=secret_aad(row.key))
        fields.update(lookup_fields(rt, secret, row.secret_lookup if overlap > 0 else None))
        if overlap > 0:
            fields["previous_secret_sealed"] = row.secret_sealed
    await repo.change_key(row, fields)
    return secret
