"""Key mutations: create (returns a challenge), confirm with a TOTP code, delete."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_keys.domain_errors import DomainError, InvalidInput
from gql_keys.global_ids import encode_global_id
from gql_keys.graphql.context import Info, no_store
from gql_keys.graphql.enums import KeyAlgorithm, Scope
from gql_keys.graphql.keys.types import ApiKeyType, TwoFactorChallenge
from gql_keys.graphql.node import decode_int_id, require_int_id
from gql_keys.graphql.permissions import require_user
from gql_keys.graphql.user_errors import UserError, user_errors
from gql_keys.services import keys as service
from gql_keys.services import sub_accounts
from gql_keys.services.key_policy import NewKeyRequest

if TYPE_CHECKING:
    from gql_keys.graphql.notifications.types import WebhookEndpointType
    from gql_keys.graphql.sub_accounts.types import SubAccountType

SubAccountRef = Annotated["SubAccountType", strawberry.lazy("gql_keys.graphql.sub_accounts.types")]
WebhookEndpointRef = Annotated[
    "WebhookEndpointType", strawberry.lazy("gql_keys.graphql.notifications.types")
]


@strawberry.input
class RateLimitInput:
    requests: int
    per_seconds: int


@strawberry.input
class CreateApiKeyInput:
    label: str = strawberry.field(description="1 to 64 characters.")
    scopes: list[Scope]
    ip_allowlist: list[str] | None = strawberry.field(
        default=None, description="IPv4/IPv6 addresses or CIDR networks, at most 20."
    )
    expires_at: datetime | None = None
    algorithm: KeyAlgorithm | None = KeyAlgorithm.HMAC_SHA512
    public_key: str | None = strawberry.field(
        default=None, description="ED25519 only: PEM, or base64 of the 32-byte raw key."
    )
    rate_limit: RateLimitInput | None = strawberry.field(
        default=None, description="The platform default when null."
    )
    sub_account_id: strawberry.ID | None = strawberry.field(
        default=None, description="The new key belongs to that sub-account of yours."
    )
    canary: bool | None = strawberry.field(
        default=False,
        description="A decoy to plant where a thief would look: every use is denied, "
        "answered like an unknown key, and reported to you as CANARY_TRIPPED.",
    )


@strawberry.type
class CreateApiKeyPayload:
    challenge: TwoFactorChallenge | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class VerifyTwoFactorInput:
    challenge_id: strawberry.ID
    code: str


@strawberry.type
class VerifyTwoFactorPayload:
    api_key: ApiKeyType | None = None
    secret: str | None = strawberry.field(
        default=None, description="The HMAC secret, shown exactly once; null for ED25519 keys."
    )
    sub_account: SubAccountRef | None = strawberry.field(
        default=None, description="The sub-account unlocked (UNLOCK_SUB_ACCOUNT)."
    )
    webhook_endpoint: WebhookEndpointRef | None = strawberry.field(
        default=None, description="The endpoint created (CREATE_WEBHOOK)."
    )
    webhook_secret: str | None = strawberry.field(
        default=None,
        description="The new endpoint's signing secret (whsec_ + base64), shown exactly once.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DeleteApiKeyInput:
    id: strawberry.ID


@strawberry.type
class DeleteApiKeyPayload:
    deleted_api_key_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _request(data: CreateApiKeyInput) -> NewKeyRequest:
    rate = data.rate_limit
    return NewKeyRequest(
        label=data.label,
        scopes=list(data.scopes),
        ip_allowlist=data.ip_allowlist,
        expires_at=data.expires_at,
        algorithm=data.algorithm or KeyAlgorithm.HMAC_SHA512,
        public_key=data.public_key,
        rate_limit_requests=rate.requests if rate is not None else None,
        rate_limit_per_seconds=rate.per_seconds if rate is not None else None,
        has_rate_limit=rate is not None,
        canary=bool(data.canary),
    )


def _sub_account_pk(global_id: strawberry.ID | None) -> int | None:
    if global_id is None:
        return None
    pk = decode_int_id(global_id, "SubAccount")
    if pk is None:
        raise sub_accounts.not_found("input", "subAccountId")
    return pk


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Start creating a key: returns a challenge to confirm with verifyTwoFactor."
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        principal = require_user(info)
        try:
            challenge = await service.create_key(
                info.context.rt,
                principal.user_id,
                _request(input),
                sub_account_id=_sub_account_pk(input.sub_account_id),
            )
        except (DomainError, InvalidInput) as exc:
            return CreateApiKeyPayload(user_errors=user_errors(exc))
        return CreateApiKeyPayload(challenge=TwoFactorChallenge.from_challenge(challenge))

    @strawberry.mutation(
        description="Confirm a challenge with a TOTP code: activate a new key, apply a "
        "stored update, roll a secret, or release a key from quarantine. A new HMAC secret "
        "is in this payload only."
    )
    async def verify_two_factor(
        self, info: Info, input: VerifyTwoFactorInput
    ) -> VerifyTwoFactorPayload:
        principal = require_user(info)
        no_store(info)
        try:
            activation = await service.confirm_key(
                info.context.rt,
                principal.user_id,
                str(input.challenge_id),
                input.code,
                info.context.client,
            )
        except (DomainError, InvalidInput) as exc:
            return VerifyTwoFactorPayload(user_errors=user_errors(exc))
        from gql_keys.graphql.notifications.types import WebhookEndpointType
        from gql_keys.graphql.sub_accounts.types import SubAccountType

        api_key, sub_account = activation.api_key, activation.sub_account
        if activation.webhook is not None:
            return VerifyTwoFactorPayload(
                webhook_endpoint=WebhookEndpointType.from_row(activation.webhook.endpoint),
                webhook_secret=activation.webhook.secret,
            )
        return VerifyTwoFactorPayload(
            api_key=ApiKeyType.from_row(api_key) if api_key is not None else None,
            secret=activation.secret,
            sub_account=SubAccountType.from_row(sub_account) if sub_account is not None else None,
        )

    @strawberry.mutation(description="Delete one of your keys; it stops verifying at once.")
    async def delete_api_key(self, info: Info, input: DeleteApiKeyInput) -> DeleteApiKeyPayload:
        principal = require_user(info)
        try:
            pk = require_int_id(input.id, "ApiKey", "No such key.")
            row = await service.delete_key(
                info.context.rt, principal.user_id, pk, info.context.client
            )
        except DomainError as exc:
            return DeleteApiKeyPayload(user_errors=user_errors(exc))
        return DeleteApiKeyPayload(
            deleted_api_key_id=strawberry.ID(encode_global_id("ApiKey", row.id))
        )
