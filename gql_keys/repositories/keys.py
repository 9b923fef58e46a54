"""Queries on API keys and their activation challenges.

Every read that serves a user names that user: a query can only ever see the
caller's own rows. Pending keys (never confirmed) are invisible to every read here
except the challenge flow itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tortoise.expressions import F, Q

from gql_keys.models import ApiKey, KeyChallenge

PENDING = "pending"
ACTIVE = "active"


async def create_pending_key(**fields: Any) -> ApiKey:
    return await ApiKey.create(state=PENDING, **fields)


async def create_challenge(
    public_id: str,
    user_id: int,
    api_key_id: int | None,
    now: datetime,
    expires_at: datetime,
    *,
    purpose: str = "CREATE_KEY",
    payload: dict[str, Any] | None = None,
    key_revision: int | None = None,
) -> KeyChallenge:
    return await KeyChallenge.create(
        public_id=public_id,
        user_id=user_id,
        api_key_id=api_key_id,
        created_at=now,
        expires_at=expires_at,
        purpose=purpose,
        payload=payload,
        key_revision=key_revision,
    )


def _live(user_id: int, now: datetime) -> Q:
    return Q(user_id=user_id, state=ACTIVE, deleted_at=None) & (
        Q(expires_at=None) | Q(expires_at__gt=now)
    )


async def count_live_keys(user_id: int, now: datetime) -> int:
    """Active keys that are neither deleted nor expired (its sub-accounts' included)."""
    return await ApiKey.filter(_live(user_id, now)).count()


async def count_account_live_keys(user_id: int, sub_account_id: int | None, now: datetime) -> int:
    """Live keys of one account: the master's own (``sub_account_id`` None) or one
    sub-account's; each has its own live-key limit."""
    return await ApiKey.filter(_live(user_id, now), sub_account_id=sub_account_id).count()


async def count_open_challenges(user_id: int, now: datetime) -> int:
    """Challenges of this user that can still be confirmed."""
    return await KeyChallenge.filter(user_id=user_id, consumed_at=None, expires_at__gt=now).count()


async def purge_stale_pending(before: datetime) -> int:
    """Delete pending keys (and, by cascade, their challenges) created before ``before``,
    and consumed challenges of that age; returns the number of keys deleted."""
    deleted = await ApiKey.filter(state=PENDING, created_at__lt=before).delete()
    await KeyChallenge.filter(Q(consumed_at__lt=before) | Q(expires_at__lt=before)).delete()
    return deleted


async def challenge_for_user(public_id: str, user_id: int) -> KeyChallenge | None:
    return await KeyChallenge.get_or_none(public_id=public_id, user_id=user_id)


async def take_attempt(challenge_id: int, max_attempts: int) -> bool:
    """Count one code against a live challenge before it is checked: one conditional
    update, so concurrent codes never get more than ``max_attempts`` judged."""
    updated = await KeyChallenge.filter(
        id=challenge_id, consumed_at=None, attempts__lt=max_attempts
    ).update(attempts=F("attempts") + 1)
    return updated == 1


async def give_back_attempt(challenge_id: int) -> None:
    """The code was right (or never judged): it was not a guess."""
    await KeyChallenge.filter(id=challenge_id, attempts__gt=0).update(attempts=F("attempts") - 1)


async def attempts_of(challenge_id: int) -> int:
    row = await KeyChallenge.get_or_none(id=challenge_id)
    return row.attempts if row is not None else 0


async def consume_challenge(challenge_id: int, now: datetime, max_attempts: int) -> bool:
    """Mark the challenge used; False when it was already used, expired or dead."""
    updated = await KeyChallenge.filter(
        id=challenge_id, consumed_at=None, expires_at__gt=now, attempts__lt=max_attempts
    ).update(consumed_at=now)
    return updated == 1


async def activate_key(api_key_id: int, now: datetime) -> ApiKey | None:
    """Turn a pending key active; None when it is not pending (any more)."""
    updated = await ApiKey.filter(id=api_key_id, state=PENDING).update(
        state=ACTIVE, activated_at=now
    )
    if updated != 1:
        return None
    return await ApiKey.get_or_none(id=api_key_id)


async def get_pending_key(api_key_id: int, user_id: int) -> ApiKey | None:
    return await ApiKey.get_or_none(id=api_key_id, user_id=user_id, state=PENDING)


async def get_user_key(api_key_id: int, user_id: int) -> ApiKey | None:
    """One of the user's confirmed keys (deleted ones included)."""
    return await ApiKey.get_or_none(id=api_key_id, user_id=user_id, state=ACTIVE)


async def lock_live_key(api_key_id: int, user_id: int) -> ApiKey | None:
    """One of the user's confirmed, not deleted keys, locked until the transaction ends
    (PostgreSQL), so concurrent changes of one key apply one after the other."""
    return (
        await ApiKey.select_for_update()
        .filter(id=api_key_id, user_id=user_id, state=ACTIVE, deleted_at=None)
        .first()
    )


async def change_key(row: ApiKey, fields: Mapping[str, Any]) -> None:
    """Store a change of what the locked ``row`` is or grants and bump its revision, in one
    UPDATE, and mirror both on ``row``.

    Every such change goes through here (an update, a roll, a quarantine or release, a
    pending change set, cancelled or taking effect), so a challenge opened on an older
    revision confirms nothing. Bookkeeping such as ``last_used_at`` does not: it changes
    no terms."""
    await ApiKey.filter(id=row.id).update(revision=F("revision") + 1, **fields)
    for name, value in fields.items():
        setattr(row, name, value)
    row.revision += 1


async def soft_delete(api_key_id: int, user_id: int, now: datetime) -> bool:
    updated = await ApiKey.filter(
        id=api_key_id, user_id=user_id, state=ACTIVE, deleted_at=None
    ).update(deleted_at=now)
    return updated == 1


def _listing(user_id: int, include_deleted: bool, sub_account_id: int | None = None) -> Q:
    """The master's own keys (``sub_account_id`` None), or one of its sub-account's."""
    where = Q(user_id=user_id, state=ACTIVE, sub_account_id=sub_account_id)
    if not include_deleted:
        where &= Q(deleted_at=None)
    return where


async def list_user_keys(
    user_id: int,
    include_deleted: bool,
    before_id: int | None,
    limit: int,
    sub_account_id: int | None = None,
) -> list[ApiKey]:
    """Up to ``limit`` keys, newest first, with ids below ``before_id`` when given."""
    where = _listing(user_id, include_deleted, sub_account_id)
    if before_id is not None:
        where &= Q(id__lt=before_id)
    return await ApiKey.filter(where).order_by("-id").limit(limit)


async def count_user_keys(
    user_id: int, include_deleted: bool, sub_account_id: int | None = None
) -> int:
    return await ApiKey.filter(_listing(user_id, include_deleted, sub_account_id)).count()


async def key_by_public_id(key: str) -> ApiKey | None:
    """The key row with this ``KEY`` (any state, deleted included), or None.

    The one query the verification hot path makes."""
    return await ApiKey.get_or_none(key=key)


async def keys_by_ids(ids: Sequence[int]) -> list[ApiKey]:
    """Key rows by primary key (any owner, any state): callers decide who may see them."""
    if not ids:
        return []
    return await ApiKey.filter(id__in=list(ids)).all()


async def owned_key_ids(user_id: int, ids: Sequence[int]) -> set[int]:
    """Those of ``ids`` that belong to ``user_id`` (deleted keys included)."""
    if not ids:
        return set()
    rows = await ApiKey.filter(user_id=user_id, id__in=list(ids)).values_list("id", flat=True)
    return {int(pk) for pk in rows}  # type: ignore[call-overload]


def _unused(user_id: int, now: datetime, cutoff: datetime) -> Q:
    """The master's own live keys without an allowed request since ``cutoff`` (or ever,
    if created before). Canaries are never used by design: they are not candidates for
    deletion."""
    return (
        _live(user_id, now)
        & Q(sub_account_id=None)
        & Q(canary=False)
        & (Q(last_used_at__lte=cutoff) | Q(last_used_at=None, created_at__lte=cutoff))
    )


async def list_unused_keys(
    user_id: int, now: datetime, cutoff: datetime, before_id: int | None, limit: int
) -> list[ApiKey]:
    where = _unused(user_id, now, cutoff)
    if before_id is not None:
        where &= Q(id__lt=before_id)
    return await ApiKey.filter(where).order_by("-id").limit(limit)


async def count_unused_keys(user_id: int, now: datetime, cutoff: datetime) -> int:
    return await ApiKey.filter(_unused(user_id, now, cutoff)).count()


async def unnotified_expiring_keys(now: datetime, horizon: datetime, limit: int) -> list[ApiKey]:
    """Live keys expiring in ``(now, horizon]`` whose KEY_EXPIRING nobody has claimed."""
    return (
        await ApiKey.filter(
            expiry_notified_at=None,
            expires_at__gt=now,
            expires_at__lte=horizon,
            state=ACTIVE,
            deleted_at=None,
        )
        .order_by("expires_at")
        .limit(limit)
    )


async def claim_expiry_notice(api_key_id: int, now: datetime) -> bool:
    """Mark the key notified; True for the one caller (of any worker) whose UPDATE won."""
    updated = await ApiKey.filter(id=api_key_id, expiry_notified_at=None).update(
        expiry_notified_at=now
    )
    return updated == 1


def _live_any_owner(now: datetime) -> Q:
    return Q(state=ACTIVE, deleted_at=None) & (Q(expires_at=None) | Q(expires_at__gt=now))


async def live_keys_by_secret_lookup(lookups: Sequence[str], now: datetime) -> list[ApiKey]:
    """Live keys (any owner) whose secret, or rolled-away secret still in its overlap, has
    one of these lookup hashes: the keys a reported secret belongs to."""
    if not lookups:
        return []
    wanted = list(lookups)
    return await ApiKey.filter(
        _live_any_owner(now)
        & (
            Q(secret_lookup__in=wanted)
            | Q(previous_secret_lookup__in=wanted, previous_secret_expires_at__gt=now)
        )
    ).order_by("id")


async def keys_missing_secret_lookups(now: datetime, after_id: int, limit: int) -> list[ApiKey]:
    """Undeleted HMAC keys whose secret (or rolled-away secret in its overlap) has no
    lookup hash yet: those stored before the lookup existed."""
    return (
        await ApiKey.filter(
            Q(id__gt=after_id, deleted_at=None, algorithm="HMAC_SHA512")
            & (
                Q(secret_sealed__isnull=False, secret_lookup=None)
                | Q(
                    previous_secret_sealed__isnull=False,
                    previous_secret_lookup=None,
                    previous_secret_expires_at__gt=now,
                )
            )
        )
        .order_by("id")
        .limit(limit)
    )


async def set_secret_lookups(api_key_id: int, fields: dict[str, str], sealed: str | None) -> bool:
    """Store lookup hashes unless the key's secret changed since it was read."""
    updated = await ApiKey.filter(id=api_key_id, secret_sealed=sealed).update(**fields)
    return updated == 1


async def lock_any_live_key(api_key_id: int) -> ApiKey | None:
    """A confirmed, undeleted key of any owner, locked for the transaction: for a leak
    reported by secret scanning or an operator, where no user is asking."""
    return (
        await ApiKey.select_for_update()
        .filter(id=api_key_id, state=ACTIVE, deleted_at=None)
        .first()
    )


async def due_pending_changes(now: datetime, limit: int) -> list[ApiKey]:
    """Undeleted keys whose cooling-off change is due, the earliest first."""
    return (
        await ApiKey.filter(pending_effective_at__lte=now, state=ACTIVE, deleted_at=None)
        .order_by("pending_effective_at")
        .limit(limit)
    )


async def next_pending_change_at() -> datetime | None:
    """When the earliest cooling-off change of an undeleted key is due."""
    row = (
        await ApiKey.filter(pending_effective_at__isnull=False, state=ACTIVE, deleted_at=None)
        .order_by("pending_effective_at")
        .first()
    )
    return row.pending_effective_at if row is not None else None


async def claim_pending_change(api_key_id: int, effective_at: datetime) -> bool:
    """Put the key's pending scopes and allowlist in force; True for the one caller (of any
    worker) whose UPDATE found the change still pending as read. Call inside a
    transaction: the row stays locked from the read (PostgreSQL), so a change the owner
    makes meanwhile is either all before (and read) or all after."""
    row = (
        await ApiKey.select_for_update()
        .filter(id=api_key_id, pending_effective_at=effective_at, deleted_at=None)
        .first()
    )
    if row is None:
        return False
    if row.pending_scopes is None or row.pending_ip_allowlist is None:  # nothing to apply
        await ApiKey.filter(id=api_key_id, pending_effective_at=effective_at).update(
            pending_effective_at=None
        )
        return False
    updated = await ApiKey.filter(
        id=api_key_id, pending_effective_at=effective_at, deleted_at=None
    ).update(
        scopes=row.pending_scopes,
        ip_allowlist=row.pending_ip_allowlist,
        pending_scopes=None,
        pending_ip_allowlist=None,
        pending_effective_at=None,
    )
    return updated == 1
