"""Queries on dashboard sessions (looked up by token digest only)."""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q

from gql_keys.models import Session


async def create_session(
    user_id: int,
    token_digest: str,
    now: datetime,
    expires_at: datetime,
    client_ip: str | None = None,
    user_agent: str | None = None,
) -> Session:
    return await Session.create(
        user_id=user_id,
        token_digest=token_digest,
        created_at=now,
        last_seen_at=now,
        expires_at=expires_at,
        client_ip=client_ip,
        user_agent=user_agent,
    )


async def live_session_by_digest(digest: str, now: datetime) -> Session | None:
    return await Session.get_or_none(token_digest=digest, revoked_at=None, expires_at__gt=now)


async def touch_session(session_id: int, now: datetime) -> None:
    await Session.filter(id=session_id).update(last_seen_at=now)


def _live(user_id: int, now: datetime, seen_since: datetime) -> Q:
    return Q(user_id=user_id, revoked_at=None, expires_at__gt=now, last_seen_at__gt=seen_since)


async def live_user_sessions(user_id: int, now: datetime, seen_since: datetime) -> list[Session]:
    """The user's sessions neither revoked, expired nor idle since ``seen_since``; newest first."""
    return await Session.filter(_live(user_id, now, seen_since)).order_by("-created_at", "-id")


async def live_user_session(
    user_id: int, session_id: int, now: datetime, seen_since: datetime
) -> Session | None:
    return await Session.filter(_live(user_id, now, seen_since), id=session_id).first()


async def revoke_user_session(user_id: int, session_id: int, now: datetime) -> bool:
    """End one of the user's live sessions; False when it is not theirs or already over."""
    changed = await Session.filter(
        id=session_id, user_id=user_id, revoked_at=None, expires_at__gt=now
    ).update(revoked_at=now)
    return changed == 1


async def revoke_other_sessions(user_id: int, keep_session_id: int, now: datetime) -> list[int]:
    """End every unrevoked session of the user but one; return the ids ended."""
    ids = await Session.filter(
        user_id=user_id, revoked_at=None, expires_at__gt=now, id__not=keep_session_id
    ).values_list("id", flat=True)
    if not ids:
        return []
    await Session.filter(id__in=list(ids), revoked_at=None).update(revoked_at=now)
    return [int(pk) for pk in ids]  # type: ignore[call-overload]
