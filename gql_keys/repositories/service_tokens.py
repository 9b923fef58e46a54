"""Queries on service tokens (looked up by token digest only)."""

from __future__ import annotations

from datetime import datetime

from gql_keys.models import ServiceToken


async def live_service_token_by_digest(digest: str) -> ServiceToken | None:
    return await ServiceToken.get_or_none(token_digest=digest, revoked_at=None)


async def create_service_token(name: str, role: str, digest: str) -> ServiceToken:
    return await ServiceToken.create(name=name, role=role, token_digest=digest)


async def list_service_tokens() -> list[ServiceToken]:
    return await ServiceToken.all().order_by("name")


async def revoke_service_token(name: str, now: datetime) -> bool:
    return bool(await ServiceToken.filter(name=name, revoked_at=None).update(revoked_at=now))
