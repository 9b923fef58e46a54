"""``verifyApiRequest``: only a service token with role ``verifier`` may ask."""

from __future__ import annotations

import strawberry

from gql_keys.graphql.context import Info
from gql_keys.graphql.permissions import require_service
from gql_keys.graphql.user_errors import user_errors
from gql_keys.graphql.verification.types import (
    VerifyApiRequestInput,
    VerifyApiRequestPayload,
    rate_limit_status,
)
from gql_keys.principals import ServiceRole
from gql_keys.services import verification as service


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Decide whether a signed partner request may pass; every decision is "
        "logged. A method or path outside the request-line grammar is never allowed "
        "(SCOPE_NOT_GRANTED once signed) and named in userErrors."
    )
    async def verify_api_request(
        self, info: Info, input: VerifyApiRequestInput
    ) -> VerifyApiRequestPayload:
        require_service(info, ServiceRole.VERIFIER)
        problem = input.problem()
        decision = await service.verify(info.context.rt, input.signed_request(problem))
        rate = decision.rate
        return VerifyApiRequestPayload(
            allowed=decision.allowed,
            code=decision.code,
            rate_limit=rate_limit_status(rate.limit, rate.remaining, rate.reset_at)
            if rate is not None
            else None,
            user_errors=user_errors(problem) if problem is not None else [],
            record=decision.record,
        )
