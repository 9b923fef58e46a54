"""Queries on dashboard sessions (looked up by token digest only)."""

from __future__ import annotations

from datetime import datetime

from gql_keys.models import Session


async def create_session(
    user_id: int, token_digest: str, now: datetime, expires_at: datetime
) -> Session:
    return await Session.create(
        user_id=user_id,
        token_digest=token_digest,
        created_at=now,
        last_seen_at=now,
        expires_at=expires_at,
    )


async def live_session_by_digest(digest: str, now: datetime) -> Session | None:
    return await Session.get_or_none(token_digest=digest, revoked_at=None, expires_at__gt=now)


async def touch_session(session_id: int, now: datetime) -> None:
    await Session.filter(id=session_id).update(last_seen_at=now)


async def revoke_session(session_id: int, now: datetime) -> None:
    await Session.filter(id=session_id, revoked_at=None).update(revoked_at=now)
