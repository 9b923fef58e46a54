"""The API-key lifecycle: create (pending) -> confirm with a TOTP code -> list -> delete.

A new key is stored pending together with a challenge; it is unusable and unlisted
until the owner confirms the challenge with a fresh TOTP code. The HMAC secret is
generated at creation, stored only sealed, and revealed exactly once: by the call
that consumes the challenge. Events are published only after their transaction
commits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.transactions import in_transaction

from gql_keys.broker.events import ActivityEvent, ActivityKind, new_event_id
from gql_keys.db import connection_label
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import ApiKey
from gql_keys.repositories import keys as repo
from gql_keys.repositories import users as users_repo
from gql_keys.runtime import Runtime
from gql_keys.security.keymaterial import new_public_key_id, new_secret, secret_aad
from gql_keys.services import two_factor
from gql_keys.services.key_policy import KeyAlgorithm, NewKeyRequest, validate_new_key
from gql_keys.services.security_events import ClientInfo, SecurityEventKind, record

CHALLENGE_ID_PREFIX = "kch_"
MAX_CHALLENGE_ID_LENGTH = 64
# An expired challenge keeps answering CHALLENGE_EXPIRED this long before it is purged.
PENDING_RETENTION = timedelta(hours=1)


class KeyStatus(StrEnum):
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    DELETED = "DELETED"


def status_of(row: ApiKey, now: datetime) -> KeyStatus:
    if row.deleted_at is not None:
        return KeyStatus.DELETED
    if row.expires_at is not None and row.expires_at <= now:
        return KeyStatus.EXPIRED
    return KeyStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Challenge:
    public_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Activation:
    api_key: ApiKey
    # HMAC keys only; never stored in the clear, never shown again.
    secret: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class KeyPage:
    rows: list[ApiKey]
    has_next_page: bool
    total_count: int


def _event(rt: Runtime, kind: ActivityKind, row: ApiKey) -> ActivityEvent:
    return ActivityEvent(
        id=new_event_id(int(rt.clock.time() * 1_000_000_000)),
        kind=kind,
        occurred_at=rt.clock.now(),
        owner_id=row.user_id,
        api_key_id=row.id,
        key=row.key,
    )


def _not_found(field: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "No such challenge.", ("input", field))


async def purge_stale_pending(rt: Runtime) -> None:
    """Forget keys never confirmed and challenges long used (called opportunistically)."""
    ttl = timedelta(seconds=rt.settings.challenge_ttl_seconds)
    await repo.purge_stale_pending(rt.clock.now() - ttl - PENDING_RETENTION)


async def create_key(rt: Runtime, user_id: int, request: NewKeyRequest) -> Challenge:
    """Store a pending key and return the challenge that confirms it."""
    settings = rt.settings
    now = rt.clock.now()
    user = await users_repo.get_user(user_id)
    if user is None or not user.two_factor_enabled:
        raise DomainError(
            ErrorCode.TWO_FACTOR_NOT_ENABLED, "Enable two-factor authentication to create keys."
        )
    spec = validate_new_key(request, settings, now)
    await purge_stale_pending(rt)
    if await repo.count_live_keys(user_id, now) >= settings.max_live_keys:
        raise DomainError(
            ErrorCode.LIMIT_REACHED,
            f"An account can hold at most {settings.max_live_keys} live keys.",
        )
    if await repo.count_open_challenges(user_id, now) >= settings.max_live_keys:
        raise DomainError(ErrorCode.LIMIT_REACHED, "Too many keys are waiting for confirmation.")

    public_key_id = new_public_key_id()
    sealed: str | None = None
    if spec.algorithm is KeyAlgorithm.HMAC_SHA512:
        sealed = rt.secretbox.seal(new_secret().encode(), aad=secret_aad(public_key_id))
    expires_at = now + timedelta(seconds=settings.challenge_ttl_seconds)
    public_id = CHALLENGE_ID_PREFIX + secrets.token_urlsafe(32)
    async with in_transaction(connection_label(settings.effective_database_url)):
        row = await repo.create_pending_key(
            user_id=user_id,
            key=public_key_id,
            label=spec.label,
            algorithm=spec.algorithm.value,
            scopes=spec.scopes,
            ip_allowlist=spec.ip_allowlist,
            secret_sealed=sealed,
            public_key=spec.public_key_b64,
            created_at=now,
            expires_at=spec.expires_at,
            expiry_clamped=spec.expiry_clamped,
            rate_limit_requests=spec.rate_limit_requests,
            rate_limit_per_seconds=spec.rate_limit_per_seconds,
        )
        await repo.create_challenge(public_id, user_id, row.id, now, expires_at)
    return Challenge(public_id=public_id, expires_at=expires_at)


async def confirm_key(
    rt: Runtime, user_id: int, challenge_id: str, code: str, client: ClientInfo
) -> Activation:
    """Check ``code`` for the user's challenge; on success activate the key, once."""
    settings = rt.settings
    now = rt.clock.now()
    await purge_stale_pending(rt)
    if not challenge_id or len(challenge_id) > MAX_CHALLENGE_ID_LENGTH:
        raise _not_found("challengeId")
    challenge = await repo.challenge_for_user(challenge_id, user_id)
    if challenge is None:
        raise _not_found("challengeId")
    if challenge.consumed_at is not None:
        raise DomainError(
            ErrorCode.CHALLENGE_EXPIRED,
            "This challenge was already used; its key is in the key list.",
            ("input", "challengeId"),
        )
    if challenge.attempts >= settings.challenge_max_attempts:
        raise DomainError(
            ErrorCode.TOO_MANY_ATTEMPTS,
            "Too many wrong codes for this challenge: create the key again.",
            ("input", "challengeId"),
        )
    if challenge.expires_at <= now:
        raise DomainError(
            ErrorCode.CHALLENGE_EXPIRED,
            "This challenge has expired: create the key again.",
            ("input", "challengeId"),
        )
    pending = await repo.get_pending_key(challenge.api_key_id, user_id)
    if pending is None:
        raise _not_found("challengeId")

    try:
        await two_factor.check_code(rt, user_id, code, client)
    except DomainError as exc:
        if exc.code is not ErrorCode.INVALID_TWO_FACTOR_CODE:
            raise  # not enabled, or locked after too many failures: no code was judged
        attempts = await repo.count_failed_attempt(challenge.id)
        await rt.broker.publish([_event(rt, ActivityKind.TWO_FACTOR_FAILED, pending)])
        if attempts >= settings.challenge_max_attempts:
            raise DomainError(
                ErrorCode.TOO_MANY_ATTEMPTS,
                "Too many wrong codes for this challenge: create the key again.",
                ("input", "code"),
            ) from None
        raise

    async with in_transaction(connection_label(settings.effective_database_url)):
        await repo.lock_owner(user_id)
        if not await repo.consume_challenge(challenge.id, now, settings.challenge_max_attempts):
            raise DomainError(
                ErrorCode.CHALLENGE_EXPIRED,
                "This challenge was already used or has expired.",
                ("input", "challengeId"),
            )
        if await repo.count_live_keys(user_id, now) >= settings.max_live_keys:
            raise DomainError(
                ErrorCode.LIMIT_REACHED,
                f"An account can hold at most {settings.max_live_keys} live keys.",
            )
        owner = await users_repo.get_user(user_id)
        if owner is None or not owner.two_factor_enabled:
            # Two-factor was turned off since the code was checked: keys need it.
            raise DomainError(
                ErrorCode.TWO_FACTOR_NOT_ENABLED, "Enable two-factor authentication to create keys."
            )
        row = await repo.activate_key(challenge.api_key_id, now)
        if row is None:
            raise _not_found("challengeId")
        await record(rt, user_id, SecurityEventKind.KEY_CREATED, client, api_key_id=row.id)
    secret: str | None = None
    if row.secret_sealed is not None:
        secret = rt.secretbox.open(row.secret_sealed, aad=secret_aad(row.key)).decode()
    # A worker may have cached the pending key as unusable: the key works from now on.
    await rt.key_invalidator.key_changed(row.key)
    await rt.broker.publish([_event(rt, ActivityKind.KEY_CREATED, row)])
    return Activation(api_key=row, secret=secret)


async def get_user_key(user_id: int, api_key_id: int) -> ApiKey | None:
    """One of the user's confirmed keys (deleted ones too); None for anyone else's."""
    return await repo.get_user_key(api_key_id, user_id)


async def list_keys(
    user_id: int, include_deleted: bool, after_id: int | None, limit: int
) -> KeyPage:
    """The user's keys newest first (keyset on id), ``limit`` at a time."""
    rows = await repo.list_user_keys(user_id, include_deleted, after_id, limit + 1)
    total = await repo.count_user_keys(user_id, include_deleted)
    return KeyPage(rows=rows[:limit], has_next_page=len(rows) > limit, total_count=total)


async def delete_key(rt: Runtime, user_id: int, api_key_id: int, client: ClientInfo) -> ApiKey:
    """Soft-delete one of the user's keys; NOT_FOUND when absent, deleted or not theirs."""
    now = rt.clock.now()
    async with in_transaction(connection_label(rt.settings.effective_database_url)):
        row = await repo.get_user_key(api_key_id, user_id)
        if (
            row is None
            or row.deleted_at is not None
            or not await repo.soft_delete(api_key_id, user_id, now)
        ):
            raise DomainError(ErrorCode.NOT_FOUND, "No such key.", ("input", "id"))
        await record(rt, user_id, SecurityEventKind.KEY_DELETED, client, api_key_id=row.id)
    row.deleted_at = now
    # Forget the key in this worker's verification cache and tell every other worker.
    await rt.key_invalidator.key_changed(row.key)
    await rt.broker.publish([_event(rt, ActivityKind.KEY_DELETED, row)])
    return row
