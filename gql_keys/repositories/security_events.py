"""Queries on the security log: append, a user's page, pruning by age (nothing edits a row)."""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q

from gql_keys.models import SecurityEvent


async def append(
    user_id: int,
    kind: str,
    occurred_at: datetime,
    client_ip: str | None,
    user_agent: str | None,
    api_key_id: int | None = None,
    key_label: str | None = None,
    *,
    sub_account_id: int | None = None,
) -> None:
    await SecurityEvent.create(
        user_id=user_id,
        kind=kind,
        occurred_at=occurred_at,
        client_ip=client_ip,
        user_agent=user_agent,
        api_key_id=api_key_id,
        key_label=key_label,
        sub_account_id=sub_account_id,
    )


async def page_for_user(
    user_id: int, limit: int, after: tuple[datetime, int] | None
) -> list[SecurityEvent]:
    """Up to ``limit`` of the user's rows, newest first, strictly after the keyset ``after``."""
    condition = Q(user_id=user_id)
    if after is not None:
        at, pk = after
        condition &= Q(occurred_at__lt=at) | Q(occurred_at=at, id__lt=pk)
    return await SecurityEvent.filter(condition).order_by("-occurred_at", "-id").limit(limit)


async def count_for_user(user_id: int) -> int:
    return await SecurityEvent.filter(user_id=user_id).count()


async def get_for_user(user_id: int, pk: int) -> SecurityEvent | None:
    return await SecurityEvent.get_or_none(id=pk, user_id=user_id)


async def count_older_than(cutoff: datetime) -> int:
    return await SecurityEvent.filter(occurred_at__lt=cutoff).count()


async def delete_batch_older_than(cutoff: datetime, batch_size: int) -> int:
    """Delete up to ``batch_size`` of the oldest rows before ``cutoff``."""
    ids = await (
        SecurityEvent.filter(occurred_at__lt=cutoff)
        .order_by("occurred_at", "id")
        .limit(batch_size)
        .values_list("id", flat=True)
    )
    if not ids:
        return 0
    return await SecurityEvent.filter(id__in=list(ids)).delete()


async def has_kind(user_id: int, kind: str) -> bool:
    return await SecurityEvent.filter(user_id=user_id, kind=kind).exists()


async def seen_from_since(user_id: int, kind: str, client_ip: str, since: datetime) -> bool:
    """Whether the user has a ``kind`` event from ``client_ip`` at or after ``since``."""
    return await SecurityEvent.filter(
        user_id=user_id, kind=kind, client_ip=client_ip, occurred_at__gte=since
    ).exists()
