"""Key safety mutations: quarantine a key, release it, cancel a cooling-off change."""

from __future__ import annotations

import strawberry

from gql_keys.domain_errors import DomainError
from gql_keys.graphql.context import Info
from gql_keys.graphql.keys.types import ApiKeyType, TwoFactorChallenge
from gql_keys.graphql.node import require_int_id
from gql_keys.graphql.permissions import require_user
from gql_keys.graphql.user_errors import UserError, user_errors
from gql_keys.services import cooling_off, quarantine


@strawberry.input
class QuarantineApiKeyInput:
    id: strawberry.ID


@strawberry.type
class QuarantineApiKeyPayload:
    api_key: ApiKeyType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ReleaseApiKeyInput:
    id: strawberry.ID


@strawberry.type
class ReleaseApiKeyPayload:
    challenge: TwoFactorChallenge | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CancelPendingKeyChangeInput:
    id: strawberry.ID


@strawberry.type
class CancelPendingKeyChangePayload:
    api_key: ApiKeyType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _key_id(global_id: strawberry.ID) -> int:
    return require_int_id(global_id, "ApiKey", "No such key.")


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Quarantine one of your keys at once (no code): it keeps reading and "
        "cancelling orders, and nothing else, until you roll, release or delete it."
    )
    async def quarantine_api_key(
        self, info: Info, input: QuarantineApiKeyInput
    ) -> QuarantineApiKeyPayload:
        principal = require_user(info)
        try:
            row = await quarantine.quarantine_key(
                info.context.rt, principal.user_id, _key_id(input.id), info.context.client
            )
        except DomainError as exc:
            return QuarantineApiKeyPayload(user_errors=user_errors(exc))
        return QuarantineApiKeyPayload(api_key=ApiKeyType.from_row(row))

    @strawberry.mutation(
        description="Release a quarantined key (a false alarm): returns a RELEASE_KEY "
        "challenge; the key is ACTIVE again once verifyTwoFactor confirms it."
    )
    async def release_api_key(self, info: Info, input: ReleaseApiKeyInput) -> ReleaseApiKeyPayload:
        principal = require_user(info)
        try:
            challenge = await quarantine.release_key(
                info.context.rt, principal.user_id, _key_id(input.id)
            )
        except DomainError as exc:
            return ReleaseApiKeyPayload(user_errors=user_errors(exc))
        return ReleaseApiKeyPayload(challenge=TwoFactorChallenge.from_challenge(challenge))

    @strawberry.mutation(
        description="Drop a key's pending (cooling-off) change at once; no code is needed."
    )
    async def cancel_pending_key_change(
        self, info: Info, input: CancelPendingKeyChangeInput
    ) -> CancelPendingKeyChangePayload:
        principal = require_user(info)
        try:
            row = await cooling_off.cancel(
                info.context.rt, principal.user_id, _key_id(input.id), info.context.client
            )
        except DomainError as exc:
            return CancelPendingKeyChangePayload(user_errors=user_errors(exc))
        return CancelPendingKeyChangePayload(api_key=ApiKeyType.from_row(row))
