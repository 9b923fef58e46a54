"""Queries on sub-accounts. Every read that serves a master names that master."""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q

from gql_keys.models import ApiKey, SubAccount
from gql_keys.repositories.keys import ACTIVE


async def create(master_id: int, label: str, now: datetime) -> SubAccount:
    return await SubAccount.create(master_id=master_id, label=label, created_at=now)


async def count_live(master_id: int) -> int:
    return await SubAccount.filter(master_id=master_id, deleted_at=None).count()


async def get_live(sub_account_id: int, master_id: int) -> SubAccount | None:
    """One of the master's sub-accounts that is not deleted."""
    return await SubAccount.get_or_none(id=sub_account_id, master_id=master_id, deleted_at=None)


async def lock_live(sub_account_id: int, master_id: int) -> SubAccount | None:
    """As :func:`get_live`, the row locked until the transaction ends (PostgreSQL), so
    a key's activation and the sub-account's deletion apply one after the other."""
    return (
        await SubAccount.select_for_update()
        .filter(id=sub_account_id, master_id=master_id, deleted_at=None)
        .first()
    )


async def by_ids(ids: list[int]) -> list[SubAccount]:
    """Rows by primary key (any master, deleted included): callers decide who may see them."""
    if not ids:
        return []
    return await SubAccount.filter(id__in=ids).all()


async def page(master_id: int, before_id: int | None, limit: int) -> list[SubAccount]:
    """Up to ``limit`` live sub-accounts, newest first, with ids below ``before_id``."""
    where = Q(master_id=master_id, deleted_at=None)
    if before_id is not None:
        where &= Q(id__lt=before_id)
    return await SubAccount.filter(where).order_by("-id").limit(limit)


async def set_locked_at(sub_account_id: int, locked_at: datetime | None) -> None:
    await SubAccount.filter(id=sub_account_id).update(locked_at=locked_at)


async def unlock_if(sub_account_id: int, master_id: int, locked_at: datetime) -> bool:
    """Unlock only if the lock is still the one the challenge was made for."""
    updated = await SubAccount.filter(
        id=sub_account_id, master_id=master_id, deleted_at=None, locked_at=locked_at
    ).update(locked_at=None)
    return updated == 1


async def soft_delete(sub_account_id: int, now: datetime) -> list[ApiKey]:
    """Mark the sub-account deleted and delete its live keys; returns those keys."""
    await SubAccount.filter(id=sub_account_id).update(deleted_at=now)
    keys = await ApiKey.filter(sub_account_id=sub_account_id, state=ACTIVE, deleted_at=None)
    if keys:
        await ApiKey.filter(id__in=[k.id for k in keys]).update(deleted_at=now)
    for key in keys:
        key.deleted_at = now
    return keys


async def live_keys_of(sub_account_id: int) -> list[str]:
    """The ``KEY`` identifiers of the sub-account's confirmed, undeleted keys."""
    rows = await ApiKey.filter(
        sub_account_id=sub_account_id, state=ACTIVE, deleted_at=None
    ).values_list("key", flat=True)
    return [str(key) for key in rows]


async def locked(sub_account_id: int) -> bool:
    """Whether its keys must not verify: the sub-account is locked or deleted (or gone)."""
    row = await SubAccount.get_or_none(id=sub_account_id)
    return row is None or row.locked_at is not None or row.deleted_at is not None
