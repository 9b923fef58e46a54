"""Inputs and payloads of ``verifyApiRequest``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types.arguments import InputContext
from strawberry.types.base import get_object_definition

from gql_keys.domain_errors import DomainError
from gql_keys.graphql.enums import Scope, VerificationCode
from gql_keys.graphql.keys.types import ApiKeyType
from gql_keys.graphql.user_errors import UserError
from gql_keys.key_cache import KeyRecord
from gql_keys.services.verification import SignedRequest, request_line_problem


@strawberry.input(description="What a gateway saw on one partner request.")
class VerifyApiRequestInput:
    key: str = strawberry.field(description="KEY header.")
    signature: str = strawberry.field(description="SIGN header.")
    timestamp: str = strawberry.field(description="Timestamp header, exactly as received.")
    method: str
    path: str = strawberry.field(description="e.g. /api/v4/spot/orders")
    query: str | None = strawberry.field(
        default="", description="Raw query string, as received, without '?'."
    )
    body_sha512: str = strawberry.field(
        description='Lowercase hex SHA-512 of the raw body ("" body included).'
    )
    client_ip: str
    required_scope: Scope

    def problem(self) -> DomainError | None:
        """Why the method or path is outside the request-line grammar, if it is."""
        return request_line_problem(self.method, self.path)

    def signed_request(self, problem: DomainError | None) -> SignedRequest:
        """What the verification service decides on (``problem``: see :meth:`problem`)."""
        return SignedRequest(
            key=self.key,
            signature=self.signature,
            timestamp=self.timestamp,
            method=self.method,
            path=self.path,
            query=self.query or "",
            body_sha512=self.body_sha512,
            client_ip=self.client_ip,
            required_scope=self.required_scope,
            plain=problem is None,
        )


def _verify_input_from(
    cls: type[VerifyApiRequestInput], value: Mapping[str, Any], _context: InputContext
) -> VerifyApiRequestInput:
    """The input built straight from graphql-core's coerced value (GraphQL names): every
    field is a string or the ``Scope`` enum graphql-core already made, so Strawberry's
    generic conversion (a type resolution and a name conversion per field, per request:
    about a tenth of a ``verifyApiRequest``) has nothing to add."""
    return cls(
        key=value["key"],
        signature=value["signature"],
        timestamp=value["timestamp"],
        method=value["method"],
        path=value["path"],
        query=value.get("query", ""),
        body_sha512=value["bodySha512"],
        client_ip=value["clientIp"],
        required_scope=value["requiredScope"],
    )


get_object_definition(VerifyApiRequestInput, strict=True).from_input = _verify_input_from


@strawberry.type
class RateLimitStatus:
    limit: int
    remaining: int
    reset_at: datetime


@strawberry.type
class VerifyApiRequestPayload:
    allowed: bool
    code: VerificationCode
    rate_limit: RateLimitStatus | None
    user_errors: list[UserError]
    record: strawberry.Private[KeyRecord | None]

    @strawberry.field(description="Set when the key exists.")
    def api_key(self) -> ApiKeyType | None:
        return ApiKeyType.from_row(self.record.row) if self.record is not None else None


def reset_instant(reset_at: float) -> datetime:
    return datetime.fromtimestamp(reset_at, UTC)


def rate_limit_status(limit: int, remaining: int, reset_at: float) -> RateLimitStatus:
    return RateLimitStatus(limit=limit, remaining=remaining, reset_at=reset_instant(reset_at))
