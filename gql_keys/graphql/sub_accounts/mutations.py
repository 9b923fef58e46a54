"""Sub-account mutations: thin translations to the sub-accounts service."""

from __future__ import annotations

import strawberry

from gql_keys.domain_errors import DomainError
from gql_keys.global_ids import encode_global_id
from gql_keys.graphql.context import Info
from gql_keys.graphql.keys.types import TwoFactorChallenge
from gql_keys.graphql.node import require_int_id
from gql_keys.graphql.permissions import require_user
from gql_keys.graphql.sub_accounts.types import SubAccountType
from gql_keys.graphql.user_errors import UserError, user_errors
from gql_keys.services import sub_accounts as service


@strawberry.input
class CreateSubAccountInput:
    label: str = strawberry.field(description="1 to 64 characters.")


@strawberry.type
class CreateSubAccountPayload:
    sub_account: SubAccountType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class LockSubAccountInput:
    id: strawberry.ID


@strawberry.type
class LockSubAccountPayload:
    sub_account: SubAccountType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class UnlockSubAccountInput:
    id: strawberry.ID


@strawberry.type
class UnlockSubAccountPayload:
    challenge: TwoFactorChallenge | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DeleteSubAccountInput:
    id: strawberry.ID


@strawberry.type
class DeleteSubAccountPayload:
    deleted_sub_account_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _pk(global_id: strawberry.ID) -> int:
    return require_int_id(global_id, "SubAccount", service.NOT_FOUND_MESSAGE)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a sub-account (needs two-factor on the master).")
    async def create_sub_account(
        self, info: Info, input: CreateSubAccountInput
    ) -> CreateSubAccountPayload:
        principal = require_user(info)
        try:
            row = await service.create_sub_account(
                info.context.rt, principal.user_id, input.label, info.context.client
            )
        except DomainError as exc:
            return CreateSubAccountPayload(user_errors=user_errors(exc))
        return CreateSubAccountPayload(sub_account=SubAccountType.from_row(row))

    @strawberry.mutation(
        description="Lock at once, no code needed: its keys answer ACCOUNT_LOCKED on every worker."
    )
    async def lock_sub_account(
        self, info: Info, input: LockSubAccountInput
    ) -> LockSubAccountPayload:
        principal = require_user(info)
        try:
            row = await service.lock_sub_account(
                info.context.rt, principal.user_id, _pk(input.id), info.context.client
            )
        except DomainError as exc:
            return LockSubAccountPayload(user_errors=user_errors(exc))
        return LockSubAccountPayload(sub_account=SubAccountType.from_row(row))

    @strawberry.mutation(
        description="Start unlocking: returns a challenge (UNLOCK_SUB_ACCOUNT) to confirm "
        "with verifyTwoFactor and the master's TOTP code."
    )
    async def unlock_sub_account(
        self, info: Info, input: UnlockSubAccountInput
    ) -> UnlockSubAccountPayload:
        principal = require_user(info)
        try:
            challenge = await service.unlock_sub_account(
                info.context.rt, principal.user_id, _pk(input.id), info.context.client
            )
        except DomainError as exc:
            return UnlockSubAccountPayload(user_errors=user_errors(exc))
        return UnlockSubAccountPayload(challenge=TwoFactorChallenge.from_challenge(challenge))

    @strawberry.mutation(
        description="Delete a sub-account and its keys: they fail verification at once, on "
        "every worker."
    )
    async def delete_sub_account(
        self, info: Info, input: DeleteSubAccountInput
    ) -> DeleteSubAccountPayload:
        principal = require_user(info)
        try:
            row = await service.delete_sub_account(
                info.context.rt, principal.user_id, _pk(input.id), info.context.client
            )
        except DomainError as exc:
            return DeleteSubAccountPayload(user_errors=user_errors(exc))
        return DeleteSubAccountPayload(
            deleted_sub_account_id=strawberry.ID(encode_global_id("SubAccount", row.id))
        )
