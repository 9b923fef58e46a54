"""Account mutations: thin translations to the accounts services."""

from __future__ import annotations

import strawberry

from gql_keys.errors import DomainError, InvalidInput
from gql_keys.graphql.accounts.types import UserType
from gql_keys.graphql.context import Info
from gql_keys.graphql.errors import UserError, user_errors
from gql_keys.services import accounts


@strawberry.input
class RegisterInput:
    email: str
    password: str


@strawberry.type
class RegisterPayload:
    user: UserType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a dashboard account.")
    async def register(self, info: Info, input: RegisterInput) -> RegisterPayload:
        try:
            row = await accounts.register(info.context.rt, input.email, input.password)
        except (DomainError, InvalidInput) as exc:
            return RegisterPayload(user_errors=user_errors(exc))
        return RegisterPayload(user=UserType.from_row(row))
