"""Queries on dashboard sessions and service tokens (looked up by token digest only)."""

from __future__ import annotations

from datetime import datetime

from gql_keys.models import ServiceToken, Session


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


async def live_service_token_by_digest(digest: str) -> ServiceToken | None:
    return await ServiceToken.get_or_none(token_digest=digest, revoked_at=None)


async def create_service_token(name: str, role: str, digest: str) -> ServiceToken:
    return await ServiceToken.create(name=name, role=role, token_digest=digest)


async def list_service_tokens() -> list[ServiceToken]:
    return await ServiceToken.all().order_by("name")


async def revoke_service_token(name: str, now: datetime) -> bool:
    return bool(await ServiceToken.filter(name=name, revoked_at=None).update(revoked_at=now))
