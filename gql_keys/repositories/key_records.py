"""The one query the verification hot path makes: an API key by its public identifier."""

from __future__ import annotations

from gql_keys.models import ApiKey


async def key_by_public_id(key: str) -> ApiKey | None:
    """The key row with this ``KEY`` (any state, deleted included), or None."""
    return await ApiKey.get_or_none(key=key)
