"""Queries on dashboard sessions (looked up by token digest only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q

from gql_keys.models import Session
from gql_keys.repositories.sql import SqlParams, datetime_reader


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


@dataclass(frozen=True, slots=True)
class LiveSession:
    id: int
    user_id: int
    last_seen_at: datetime


async def live_session_by_digest(digest: str, now: datetime) -> LiveSession | None:
    """The session of a token, unless revoked or expired. Every dashboard request asks
    this: one SQL statement and a plain row, not a query built and a model made each time."""
    db = Session._meta.db
    params = SqlParams.for_connection(db)
    sql = (
        "SELECT id, user_id, last_seen_at FROM sessions "
        f"WHERE token_digest = {params.add(digest)} AND revoked_at IS NULL "
        f"AND expires_at > {params.add(now)}"
    )
    _, rows = await db.execute_query(sql, params.values)
    if not rows:
        return None
    seen = datetime_reader(Session, "last_seen_at")(rows[0][2])
    return LiveSession(id=rows[0][0], user_id=rows[0][1], last_seen_at=seen)


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
