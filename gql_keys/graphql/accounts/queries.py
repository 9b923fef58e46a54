"""Account queries."""

from __future__ import annotations

import strawberry

from gql_keys.graphql.accounts.types import UserType
from gql_keys.graphql.context import Info
from gql_keys.principals import UserPrincipal
from gql_keys.services import accounts as service


@strawberry.type
class Query:
    @strawberry.field(description="The logged-in user; null when not logged in.")
    async def viewer(self, info: Info) -> UserType | None:
        principal = info.context.principal
        if not isinstance(principal, UserPrincipal):
            return None
        row = await service.get_user(principal.user_id)
        return UserType.from_row(row) if row is not None else None


async def load_user_node(info: Info, pk: str) -> UserType | None:
    principal = info.context.principal
    if not isinstance(principal, UserPrincipal) or str(principal.user_id) != pk:
        return None
    row = await service.get_user(principal.user_id)
    return UserType.from_row(row) if row is not None else None
