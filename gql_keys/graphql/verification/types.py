"""Inputs and payloads of ``verifyApiRequest``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import strawberry

from gql_keys.graphql.keys.scopes import ScopeEnum
from gql_keys.graphql.keys.types import ApiKeyType
from gql_keys.graphql.usage.codes import VerificationCodeEnum
from gql_keys.graphql.user_errors import UserError
from gql_keys.scopes import Scope
from gql_keys.services.key_cache import KeyRecord


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
    required_scope: ScopeEnum  # type: ignore[valid-type]


def _input_from_graphql(
    cls: type[VerifyApiRequestInput], value: Mapping[str, Any], context: object
) -> VerifyApiRequestInput:
    """Build the input in one step: every field is a string or the Scope enum.

    Strawberry's generic conversion resolves each field's annotation per request, the
    largest single cost of this hot mutation; graphql-core has already validated and
    coerced every value here.
    """
    return cls(
        key=value["key"],
        signature=value["signature"],
        timestamp=value["timestamp"],
        method=value["method"],
        path=value["path"],
        query=value.get("query"),
        body_sha512=value["bodySha512"],
        client_ip=value["clientIp"],
        required_scope=Scope(value["requiredScope"]),
    )


VerifyApiRequestInput.__strawberry_definition__.from_input = _input_from_graphql  # type: ignore[attr-defined]


@strawberry.type
class RateLimitStatus:
    limit: int
    remaining: int
    reset_at: datetime


@strawberry.type
class VerifyApiRequestPayload:
    allowed: bool
    code: VerificationCodeEnum  # type: ignore[valid-type]
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
