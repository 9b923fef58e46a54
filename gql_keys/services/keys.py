"""The API-key lifecycle: create (pending) -> confirm with a TOTP code -> list -> delete.

A new key is stored pending together with a challenge; it is unusable and unlisted
until the owner confirms the challenge with a fresh TOTP code. The HMAC secret is
generated at creation, stored only sealed (and as its lookup hash), and revealed exactly
once: by the call that consumes the challenge. A new key granted ``WITHDRAW`` is activated
without it, the grant cooling off (:mod:`gql_keys.services.cooling_off`). The same
confirmation applies the stored change of an update, roll or release challenge
(:mod:`gql_keys.services.key_changes`, :mod:`gql_keys.services.quarantine`). Events are
published only after their transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from gql_keys.broker.events import ActivityKind
from gql_keys.db import transaction
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import ApiKey, KeyChallenge, SubAccount
from gql_keys.principals import (
    ApiKeyPrincipal,
    Principal,
    ServicePrincipal,
    ServiceRole,
    UserPrincipal,
)
from gql_keys.repositories import keys as repo
from gql_keys.repositories import sub_accounts as sub_accounts_repo
from gql_keys.repositories import users as users_repo
from gql_keys.runtime import Runtime
from gql_keys.security.keymaterial import new_public_key_id, new_secret, secret_aad
from gql_keys.services import cooling_off, key_changes, quarantine, sub_accounts, webhook_endpoints
from gql_keys.services.key_challenges import (
    MAX_CHALLENGE_ID_LENGTH,
    Challenge,
    ChallengePurpose,
    check_open_challenges,
    check_revision,
    judge_code,
    key_event,
    open_challenge,
    require_two_factor,
    too_many_attempts,
    two_factor_required,
)
from gql_keys.services.key_policy import KeyAlgorithm, NewKeyRequest, validate_new_key
from gql_keys.services.secret_lookups import lookup_fields
from gql_keys.services.security_events import ClientInfo, SecurityEventKind, record
from gql_keys.services.webhook_endpoints import CreatedEndpoint
from gql_keys.settings import Settings

# An expired challenge keeps answering CHALLENGE_EXPIRED this long before it is purged.
PENDING_RETENTION = timedelta(hours=1)


class KeyStatus(StrEnum):
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    DELETED = "DELETED"
    QUARANTINED = "QUARANTINED"


def status_of(row: ApiKey, now: datetime) -> KeyStatus:
    if row.deleted_at is not None:
        return KeyStatus.DELETED
    if row.expires_at is not None and row.expires_at <= now:
        return KeyStatus.EXPIRED
    if row.quarantined_at is not None:
        return KeyStatus.QUARANTINED
    return KeyStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Activation:
    api_key: ApiKey | None
    # HMAC keys only; never stored in the clear, never shown again.
    secret: str | None = field(repr=False)
    sub_account: SubAccount | None = None  # UNLOCK_SUB_ACCOUNT
    webhook: CreatedEndpoint | None = None  # CREATE_WEBHOOK


@dataclass(frozen=True, slots=True)
class KeyPage:
    rows: list[ApiKey]
    has_next_page: bool
    total_count: int


def _not_found(field: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "No such challenge.", ("input", field))


def _key_limit_reached(settings: Settings) -> DomainError:
    return DomainError(
        ErrorCode.LIMIT_REACHED, f"An account can hold at most {settings.max_live_keys} live keys."
    )


async def purge_stale_pending(rt: Runtime) -> None:
    """Forget keys never confirmed and challenges long used (called opportunistically)."""
    ttl = timedelta(seconds=rt.settings.challenge_ttl_seconds)
    await repo.purge_stale_pending(rt.clock.now() - ttl - PENDING_RETENTION)


async def create_key(
    rt: Runtime, user_id: int, request: NewKeyRequest, sub_account_id: int | None = None
) -> Challenge:
    """Store a pending key (of the user, or of one of its sub-accounts) and return the
    challenge that confirms it."""
    settings = rt.settings
    now = rt.clock.now()
    await require_two_factor(user_id, "create keys")
    if sub_account_id is not None:
        await sub_accounts.live_sub_account(user_id, sub_account_id, "input", "subAccountId")
    spec = validate_new_key(request, settings, now)
    await purge_stale_pending(rt)
    if await repo.count_account_live_keys(user_id, sub_account_id, now) >= settings.max_live_keys:
        raise _key_limit_reached(settings)
    await check_open_challenges(rt, user_id, now)

    public_key_id = new_public_key_id()
    sealed: str | None = None
    secret: str | None = None
    if spec.algorithm is KeyAlgorithm.HMAC_SHA512:
        secret = new_secret()
        sealed = rt.secretbox.seal(secret.encode(), aad=secret_aad(public_key_id))
    async with transaction(settings):
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
            sub_account_id=sub_account_id,
            canary=spec.canary,
            **lookup_fields(rt, secret, None),
        )
        return await open_challenge(rt, user_id, row.id, ChallengePurpose.CREATE_KEY, now)


async def confirm_key(
    rt: Runtime, user_id: int, challenge_id: str, code: str, client: ClientInfo
) -> Activation:
    """Check ``code`` for the user's challenge; on success do what it was opened for, once:
    activate the new key, or apply the stored update or roll."""
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
        raise too_many_attempts("challengeId")
    if challenge.expires_at <= now:
        raise DomainError(
            ErrorCode.CHALLENGE_EXPIRED,
            "This challenge has expired: start again.",
            ("input", "challengeId"),
        )
    purpose = ChallengePurpose(challenge.purpose)
    if purpose is ChallengePurpose.UNLOCK_SUB_ACCOUNT:
        unlocked = await sub_accounts.confirm_unlock(rt, user_id, challenge, code, client)
        return Activation(api_key=None, secret=None, sub_account=unlocked)
    if purpose is ChallengePurpose.CREATE_WEBHOOK:
        created = await webhook_endpoints.confirm_create(rt, user_id, challenge, code, client)
        return Activation(api_key=None, secret=None, webhook=created)
    key_id = challenge.api_key_id or 0  # every other purpose names a key
    if purpose is ChallengePurpose.CREATE_KEY:
        target = await repo.get_pending_key(key_id, user_id)
    else:
        target = await repo.get_user_key(key_id, user_id)
    if target is None or target.deleted_at is not None:
        raise _not_found("challengeId")
    if purpose is not ChallengePurpose.CREATE_KEY:
        check_revision(challenge, target)  # before a code is spent on it

    failed = key_event(rt, ActivityKind.TWO_FACTOR_FAILED, target)
    await judge_code(rt, user_id, challenge, code, client, failed)

    if purpose is not ChallengePurpose.CREATE_KEY:
        return await _confirm_change(rt, user_id, challenge, purpose, client)
    async with transaction(settings):
        owner = await users_repo.lock_user(user_id)
        await _consume(rt, challenge, now)
        if target.sub_account_id is not None and (
            await sub_accounts_repo.lock_live(target.sub_account_id, user_id) is None
        ):
            raise _not_found("challengeId")  # its sub-account was deleted meanwhile
        live = await repo.count_account_live_keys(user_id, target.sub_account_id, now)
        if live >= settings.max_live_keys:
            raise _key_limit_reached(settings)
        if owner is None or not owner.two_factor_enabled:
            # Two-factor was turned off since the code was checked: keys need it.
            raise two_factor_required("create keys")
        row = await repo.activate_key(target.id, now)
        if row is None:
            raise _not_found("challengeId")
        await record(rt, user_id, SecurityEventKind.KEY_CREATED, client, api_key=row)
        kinds = [ActivityKind.KEY_CREATED, *await _withhold_withdraw(rt, row, now, client)]
    secret: str | None = None
    if row.secret_sealed is not None:
        secret = rt.secretbox.open(row.secret_sealed, aad=secret_aad(row.key)).decode()
    # A worker may have cached the pending key as unusable: the key works from now on.
    await key_changes.announce(rt, row, *kinds)
    return Activation(api_key=row, secret=secret)


async def _withhold_withdraw(
    rt: Runtime, row: ApiKey, now: datetime, client: ClientInfo
) -> list[ActivityKind]:
    """A new key granted WITHDRAW is activated without it, the grant cooling off (canaries
    never verify: nothing to wait for). The activity events of that."""
    if row.canary:
        return []
    scopes, allowlist = list(row.scopes), list(row.ip_allowlist)
    row.scopes, row.ip_allowlist = [], []  # what was in force before: nothing
    terms = cooling_off.plan_terms(rt, row, scopes, allowlist, now)
    await repo.change_key(row, terms.fields)
    return await cooling_off.record_terms_change(rt, row, terms, client)


async def _consume(rt: Runtime, challenge: KeyChallenge, now: datetime) -> None:
    max_attempts = rt.settings.challenge_max_attempts
    if not await repo.consume_challenge(challenge.id, now, max_attempts):
        raise DomainError(
            ErrorCode.CHALLENGE_EXPIRED,
            "This challenge was already used or has expired.",
            ("input", "challengeId"),
        )


async def _confirm_change(
    rt: Runtime,
    user_id: int,
    challenge: KeyChallenge,
    purpose: ChallengePurpose,
    client: ClientInfo,
) -> Activation:
    """Apply the update, roll or release stored with ``challenge`` (the code was right)."""
    now = rt.clock.now()
    payload = challenge.payload or {}
    secret: str | None = None
    async with transaction(rt.settings):
        await _consume(rt, challenge, now)
        row = await key_changes.lock_changeable(
            user_id, challenge.api_key_id or 0, now, "challengeId"
        )
        check_revision(challenge, row)  # again under the lock: a change may have just won
        kinds: list[ActivityKind] = []
        if purpose is ChallengePurpose.UPDATE_KEY:
            pending_kinds = await key_changes.apply_update(rt, row, payload, now, client)
            await record(rt, user_id, SecurityEventKind.KEY_UPDATED, client, api_key=row)
            kinds = [ActivityKind.KEY_UPDATED, *pending_kinds]
        elif purpose is ChallengePurpose.ROLL_KEY:
            released = row.quarantined_at is not None
            secret = await key_changes.apply_roll(rt, row, payload, now)
            await record(rt, user_id, SecurityEventKind.KEY_ROLLED, client, api_key=row)
            kinds = [ActivityKind.KEY_ROLLED]
            if released:
                await record(rt, user_id, SecurityEventKind.KEY_RELEASED, client, api_key=row)
                kinds.append(ActivityKind.KEY_RELEASED)
        else:
            await quarantine.apply_release(row, payload)
            await record(rt, user_id, SecurityEventKind.KEY_RELEASED, client, api_key=row)
            kinds = [ActivityKind.KEY_RELEASED]
    await key_changes.announce(rt, row, *kinds)
    return Activation(api_key=row, secret=secret)


def may_read_key(principal: Principal | None, row: ApiKey) -> bool:
    """The one read rule for keys: a user reads their own confirmed keys, a signed
    request its own key, a monitor any confirmed key (read-only: monitors run no
    mutation); anyone else none."""
    if row.state != repo.ACTIVE:
        return False
    if isinstance(principal, ServicePrincipal):
        return principal.role is ServiceRole.MONITOR
    if isinstance(principal, UserPrincipal):
        return bool(row.user_id == principal.user_id)
    if isinstance(principal, ApiKeyPrincipal):
        return bool(row.id == principal.api_key_id)
    return False


async def readable_key(principal: Principal | None, api_key_id: int) -> ApiKey | None:
    """The key ``api_key_id`` when :func:`may_read_key` lets ``principal`` read it."""
    if principal is None:
        return None
    rows = await repo.keys_by_ids([api_key_id])
    return rows[0] if rows and may_read_key(principal, rows[0]) else None


async def key_by_public_id(key: str) -> ApiKey | None:
    """The key row with this ``KEY`` (any state), for the principal that signed with it."""
    return await repo.key_by_public_id(key)


async def keys_by_ids(ids: Sequence[int]) -> dict[int, ApiKey]:
    """Key rows by id (any owner): callers decide whether the principal may see them."""
    return {row.id: row for row in await repo.keys_by_ids(ids)}


async def list_keys(
    user_id: int, include_deleted: bool, after_id: int | None, limit: int
) -> KeyPage:
    """The user's keys newest first (keyset on id), ``limit`` at a time."""
    rows = await repo.list_user_keys(user_id, include_deleted, after_id, limit + 1)
    total = await repo.count_user_keys(user_id, include_deleted)
    return KeyPage(rows=rows[:limit], has_next_page=len(rows) > limit, total_count=total)


MAX_UNUSED_FOR_DAYS = 36_500


async def list_unused_keys(
    rt: Runtime, user_id: int, unused_for_days: int, after_id: int | None, limit: int
) -> KeyPage:
    """The user's live keys without an allowed request for ``unused_for_days`` days (or
    never used and created that long ago), newest first."""
    if not 0 <= unused_for_days <= MAX_UNUSED_FOR_DAYS:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"unusedForDays must be between 0 and {MAX_UNUSED_FOR_DAYS}.",
            ("unusedForDays",),
        )
    now = rt.clock.now()
    cutoff = now - timedelta(days=unused_for_days)
    rows = await repo.list_unused_keys(user_id, now, cutoff, after_id, limit + 1)
    total = await repo.count_unused_keys(user_id, now, cutoff)
    return KeyPage(rows=rows[:limit], has_next_page=len(rows) > limit, total_count=total)


async def delete_key(rt: Runtime, user_id: int, api_key_id: int, client: ClientInfo) -> ApiKey:
    """Soft-delete one of the user's keys; NOT_FOUND when absent, deleted or not theirs."""
    now = rt.clock.now()
    async with transaction(rt.settings):
        row = await repo.get_user_key(api_key_id, user_id)
        if (
            row is None
            or row.deleted_at is not None
            or not await repo.soft_delete(api_key_id, user_id, now)
        ):
            raise DomainError(ErrorCode.NOT_FOUND, "No such key.", ("input", "id"))
        await record(rt, user_id, SecurityEventKind.KEY_DELETED, client, api_key=row)
    row.deleted_at = now
    # Forget the key in this worker's verification cache and tell every other worker.
    await rt.key_invalidator.key_changed(row.key)
    await rt.broker.publish([key_event(rt, ActivityKind.KEY_DELETED, row)])
    return row
