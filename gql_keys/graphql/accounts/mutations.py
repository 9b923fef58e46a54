"""Account mutations: thin translations to the accounts services."""

from __future__ import annotations

import strawberry

from gql_keys.domain_errors import DomainError, InvalidInput
from gql_keys.graphql.accounts.types import UserType
from gql_keys.graphql.context import Info, no_store
from gql_keys.graphql.permissions import forbid_machine_principals, require_user
from gql_keys.graphql.user_errors import UserError, user_errors
from gql_keys.services import accounts, sessions, two_factor


@strawberry.input
class RegisterInput:
    email: str
    password: str


@strawberry.type
class RegisterPayload:
    user: UserType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class LoginInput:
    email: str
    password: str
    totp_code: str | None = None


@strawberry.type
class LoginPayload:
    token: str | None = None
    user: UserType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LogoutPayload:
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class BeginTwoFactorSetupInput:
    password: str


@strawberry.type
class BeginTwoFactorSetupPayload:
    secret: str | None = None
    otpauth_uri: str | None = None
    qr_svg: str | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ConfirmTwoFactorSetupInput:
    code: str
    sign_out_other_sessions: bool = strawberry.field(
        default=True,
        description="End every other session of the account (the calling one stays).",
    )


@strawberry.type
class ConfirmTwoFactorSetupPayload:
    user: UserType | None = None
    recovery_codes: list[str] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a dashboard account.")
    async def register(self, info: Info, input: RegisterInput) -> RegisterPayload:
        forbid_machine_principals(info)
        try:
            row = await accounts.register(
                info.context.rt, input.email, input.password, info.context.client_ip
            )
        except (DomainError, InvalidInput) as exc:
            return RegisterPayload(user_errors=user_errors(exc))
        return RegisterPayload(user=UserType.from_row(row))

    @strawberry.mutation(
        description="Log in; returns a session token for the Authorization header."
    )
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        forbid_machine_principals(info)
        no_store(info)
        try:
            result = await sessions.login(
                info.context.rt,
                input.email,
                input.password,
                input.totp_code,
                info.context.client,
            )
        except DomainError as exc:
            return LoginPayload(user_errors=user_errors(exc))
        return LoginPayload(token=result.token, user=UserType.from_row(result.user))

    @strawberry.mutation(description="End the calling session at once.")
    async def logout(self, info: Info) -> LogoutPayload:
        principal = require_user(info)
        await sessions.logout(
            info.context.rt, principal.user_id, principal.session_id, info.context.client
        )
        return LogoutPayload()

    @strawberry.mutation(
        description="Start TOTP set-up; 2FA is not active until confirmTwoFactorSetup."
    )
    async def begin_two_factor_setup(
        self, info: Info, input: BeginTwoFactorSetupInput
    ) -> BeginTwoFactorSetupPayload:
        principal = require_user(info)
        no_store(info)
        try:
            started = await two_factor.begin_setup(
                info.context.rt, principal.user_id, input.password
            )
        except DomainError as exc:
            return BeginTwoFactorSetupPayload(user_errors=user_errors(exc))
        return BeginTwoFactorSetupPayload(
            secret=started.secret, otpauth_uri=started.otpauth_uri, qr_svg=started.qr_svg
        )

    @strawberry.mutation(
        description="Confirm TOTP set-up with a code; returns recovery codes (shown once)."
    )
    async def confirm_two_factor_setup(
        self, info: Info, input: ConfirmTwoFactorSetupInput
    ) -> ConfirmTwoFactorSetupPayload:
        principal = require_user(info)
        no_store(info)
        try:
            confirmed = await two_factor.confirm_setup(
                info.context.rt,
                principal.user_id,
                input.code,
                info.context.client,
                keep_session=principal.session_id if input.sign_out_other_sessions else None,
            )
        except DomainError as exc:
            return ConfirmTwoFactorSetupPayload(user_errors=user_errors(exc))
        return ConfirmTwoFactorSetupPayload(
            user=UserType.from_row(confirmed.user), recovery_codes=confirmed.recovery_codes
        )
