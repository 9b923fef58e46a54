"""Service tokens for gateways and monitors: random, shown once, stored as digests."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from gql_keys.models import ServiceToken
from gql_keys.principals import ServiceRole
from gql_keys.repositories import service_tokens as repo
from gql_keys.security.tokens import SERVICE_TOKEN_PREFIX, new_token, token_digest

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TokenNameTaken(Exception):
    pass


async def create(name: str, role: ServiceRole) -> str:
    """Create a token; the returned plaintext is never stored or shown again."""
    if not _NAME.match(name):
        raise ValueError("name must be 1-64 letters, digits, '.', '_' or '-'")
    token = new_token(SERVICE_TOKEN_PREFIX)
    try:
        await repo.create_service_token(name, role.value, token_digest(token))
    except IntegrityError:
        raise TokenNameTaken(name) from None
    return token


async def list_all() -> list[ServiceToken]:
    return await repo.list_service_tokens()


async def revoke(name: str) -> bool:
    return await repo.revoke_service_token(name, datetime.now(UTC))
