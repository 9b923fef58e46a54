"""Key mutations after creation: update its terms, roll its secret."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql_keys.domain_errors import DomainError, InvalidInput
from gql_keys.graphql.context import Info
from gql_keys.graphql.enums import Scope
from gql_keys.graphql.keys.mutations import RateLimitInput
from gql_keys.graphql.keys.types import ApiKeyType, TwoFactorChallenge
from gql_keys.graphql.node import require_int_id
from gql_keys.graphql.permissions import require_user
from gql_keys.graphql.user_errors import UserError, user_errors
from gql_keys.services import key_changes as service
from gql_keys.services.key_updates import KeyUpdateRequest


@strawberry.input(description="Each field: absent or null leaves it unchanged.")
class UpdateApiKeyInput:
    id: strawberry.ID
    label: str | None = None
    scopes: list[Scope] | None = None
    ip_allowlist: list[str] | None = strawberry.field(
        default=None, description="[] removes the restriction."
    )
    expires_at: datetime | None = None
    rate_limit: RateLimitInput | None = None


@strawberry.type(
    description="apiKey when the change only narrowed access (applied at once); challenge "
    "when it widens access (nothing changes until verifyTwoFactor confirms it)."
)
class UpdateApiKeyPayload:
    api_key: ApiKeyType | None = None
    challenge: TwoFactorChallenge | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RollApiKeyInput:
    id: strawberry.ID
    overlap_seconds: int | None = strawberry.field(
        default=3600,
        description="How long the previous secret or public key keeps verifying (0..86400).",
    )
    public_key: str | None = strawberry.field(
        default=None, description="ED25519 keys only (required): the new public key."
    )


@strawberry.type
class RollApiKeyPayload:
    challenge: TwoFactorChallenge | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _key_id(global_id: strawberry.ID) -> int:
    return require_int_id(global_id, "ApiKey", "No such key.")


def _request(data: UpdateApiKeyInput) -> KeyUpdateRequest:
    rate = data.rate_limit
    return KeyUpdateRequest(
        label=data.label,
        scopes=list(data.scopes) if data.scopes is not None else None,
        ip_allowlist=data.ip_allowlist,
        expires_at=data.expires_at,
        rate_limit=(rate.requests, rate.per_seconds) if rate is not None else None,
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Change a key: narrowing applies at once, widening needs a code."
    )
    async def update_api_key(self, info: Info, input: UpdateApiKeyInput) -> UpdateApiKeyPayload:
        principal = require_user(info)
        try:
            result = await service.update_key(
                info.context.rt,
                principal.user_id,
                _key_id(input.id),
                _request(input),
                info.context.client,
            )
        except (DomainError, InvalidInput) as exc:
            return UpdateApiKeyPayload(user_errors=user_errors(exc))
        if result.challenge is not None:
            return UpdateApiKeyPayload(
                challenge=TwoFactorChallenge.from_challenge(result.challenge)
            )
        assert result.api_key is not None
        return UpdateApiKeyPayload(api_key=ApiKeyType.from_row(result.api_key))

    @strawberry.mutation(
        description="Replace a key's secret (HMAC) or public key (ED25519), confirmed with "
        "verifyTwoFactor; the previous one keeps verifying for overlapSeconds."
    )
    async def roll_api_key(self, info: Info, input: RollApiKeyInput) -> RollApiKeyPayload:
        principal = require_user(info)
        overlap = input.overlap_seconds if input.overlap_seconds is not None else 3600
        try:
            challenge = await service.roll_key(
                info.context.rt, principal.user_id, _key_id(input.id), overlap, input.public_key
            )
        except DomainError as exc:
            return RollApiKeyPayload(user_errors=user_errors(exc))
        return RollApiKeyPayload(challenge=TwoFactorChallenge.from_challenge(challenge))
