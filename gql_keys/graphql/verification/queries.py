"""``currentApiKey``: the key that signed this request."""

from __future__ import annotations

import strawberry

from gql_keys.graphql.context import Info
from gql_keys.graphql.keys.types import ApiKeyType
from gql_keys.principals import ApiKeyPrincipal
from gql_keys.services.keys import key_by_public_id


@strawberry.type
class Query:
    @strawberry.field(description="The key that signed this request; null for other callers.")
    async def current_api_key(self, info: Info) -> ApiKeyType | None:
        principal = info.context.principal
        if not isinstance(principal, ApiKeyPrincipal):
            return None
        row = await key_by_public_id(principal.key)
        return ApiKeyType.from_row(row) if row is not None else None
