"""Account security mutations: thin translations to the accounts, sessions and 2FA services."""

from __future__ import annotations

import strawberry

from gql_keys.domain_errors import DomainError
from gql_keys.global_ids import encode_global_id
from gql_keys.graphql.accounts.types import UserType
from gql_keys.graphql.context import Info, no_store
from gql_keys.graphql.node import require_int_id
from gql_keys.graphql.permissions import require_user
from gql_keys.graphql.user_errors import UserError, user_errors
from gql_keys.services import accounts, sessions, two_factor


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@strawberry.type
class ChangePasswordPayload:
    user: UserType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RevokeSessionInput:
    id: strawberry.ID


@strawberry.type
class RevokeSessionPayload:
    revoked_session_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RegenerateRecoveryCodesInput:
    code: str = strawberry.field(description="A current TOTP code.")
    sign_out_other_sessions: bool = strawberry.field(
        default=True,
        description="End every other session of the account (the calling one stays).",
    )


@strawberry.type
class RegenerateRecoveryCodesPayload:
    recovery_codes: list[str] | None = strawberry.field(
        default=None, description="Shown once; the previous codes no longer work."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DisableTwoFactorInput:
    password: str
    code: str = strawberry.field(description="A current TOTP code.")
    sign_out_other_sessions: bool = strawberry.field(
        default=True,
        description="End every other session of the account (the calling one stays).",
    )


@strawberry.type
class DisableTwoFactorPayload:
    user: UserType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Change the password (the current one is required); ends every other session."
    )
    async def change_password(
        self, info: Info, input: ChangePasswordInput
    ) -> ChangePasswordPayload:
        principal = require_user(info)
        try:
            row = await accounts.change_password(
                info.context.rt,
                principal.user_id,
                principal.session_id,
                input.current_password,
                input.new_password,
                info.context.client,
            )
        except DomainError as exc:
            return ChangePasswordPayload(user_errors=user_errors(exc))
        return ChangePasswordPayload(user=UserType.from_row(row))

    @strawberry.mutation(
        description="End one of your sessions: its token and sockets stop working at once."
    )
    async def revoke_session(self, info: Info, input: RevokeSessionInput) -> RevokeSessionPayload:
        principal = require_user(info)
        try:
            pk = require_int_id(input.id, "Session", "No such session.")
            await sessions.revoke_session(
                info.context.rt, principal.user_id, pk, info.context.client
            )
        except DomainError as exc:
            return RevokeSessionPayload(user_errors=user_errors(exc))
        return RevokeSessionPayload(
            revoked_session_id=strawberry.ID(encode_global_id("Session", pk))
        )

    @strawberry.mutation(
        description="Replace every recovery code, given a current TOTP code; shown once."
    )
    async def regenerate_recovery_codes(
        self, info: Info, input: RegenerateRecoveryCodesInput
    ) -> RegenerateRecoveryCodesPayload:
        principal = require_user(info)
        no_store(info)
        try:
            codes = await two_factor.regenerate_recovery_codes(
                info.context.rt,
                principal.user_id,
                input.code,
                info.context.client,
                keep_session=principal.session_id if input.sign_out_other_sessions else None,
            )
        except DomainError as exc:
            return RegenerateRecoveryCodesPayload(user_errors=user_errors(exc))
        return RegenerateRecoveryCodesPayload(recovery_codes=codes)

    @strawberry.mutation(
        description="Turn two-factor off (password and a current code); refused with "
        "KEYS_EXIST while the account has live keys."
    )
    async def disable_two_factor(
        self, info: Info, input: DisableTwoFactorInput
    ) -> DisableTwoFactorPayload:
        principal = require_user(info)
        try:
            row = await two_factor.disable(
                info.context.rt,
                principal.user_id,
                input.password,
                input.code,
                info.context.client,
                keep_session=principal.session_id if input.sign_out_other_sessions else None,
            )
        except DomainError as exc:
            return DisableTwoFactorPayload(user_errors=user_errors(exc))
        return DisableTwoFactorPayload(user=UserType.from_row(row))
