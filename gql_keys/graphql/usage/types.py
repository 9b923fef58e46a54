"""The ``UsageLog`` type and the ``UsageLogFilter`` input."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_keys.global_ids import encode_global_id
from gql_keys.graphql.context import Info
from gql_keys.graphql.enums import Scope, VerificationCode
from gql_keys.graphql.loaders import api_key_loader
from gql_keys.graphql.node import Node
from gql_keys.models import UsageLog as UsageLogRow
from gql_keys.services.keys import may_read_key

if TYPE_CHECKING:
    from gql_keys.graphql.keys.types import ApiKeyType

ApiKeyRef = Annotated["ApiKeyType", strawberry.lazy("gql_keys.graphql.keys.types")]


@strawberry.input(description="Every given condition must hold; null fields do not filter.")
class UsageLogFilter:
    key_id: strawberry.ID | None = None
    codes: list[VerificationCode] | None = None
    allowed: bool | None = None
    since: datetime | None = strawberry.field(default=None, description="Inclusive.")
    until: datetime | None = strawberry.field(default=None, description="Exclusive.")
    client_ip: str | None = None
    signed_with_previous_secret: bool | None = strawberry.field(
        default=None,
        description="true: only requests signed with a key's previous secret during the "
        "overlap after a roll; false: only the others.",
    )
    sub_account_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only rows of that sub-account's keys."
    )


@strawberry.type(name="UsageLog", description="One verification decision.")
class UsageLogType(Node):
    key: str = strawberry.field(description="The KEY header as presented.")
    occurred_at: datetime
    allowed: bool
    code: VerificationCode
    client_ip: str
    method: str
    path: str
    required_scope: Scope | None
    signed_with_previous_secret: bool = strawberry.field(
        description="True when the request was signed with the key's previous secret "
        "(or public key) during the overlap after a roll: that partner has not switched yet."
    )
    api_key_id: strawberry.Private[int | None]

    @strawberry.field(description="The key, when the KEY header named one that exists.")
    async def api_key(self, info: Info) -> ApiKeyRef | None:
        from gql_keys.graphql.keys.types import ApiKeyType

        if self.api_key_id is None:
            return None
        row = await api_key_loader(info.context).load(self.api_key_id)
        if row is None or not may_read_key(info.context.principal, row):
            return None
        return ApiKeyType.from_row(row)

    @classmethod
    def from_row(cls, row: UsageLogRow) -> UsageLogType:
        return cls(
            id=strawberry.ID(encode_global_id("UsageLog", row.id)),
            key=row.key,
            occurred_at=row.occurred_at,
            allowed=row.allowed,
            code=VerificationCode(row.code),
            client_ip=row.client_ip,
            method=row.method,
            path=row.path,
            required_scope=Scope(row.required_scope) if row.required_scope else None,
            signed_with_previous_secret=row.signed_with_previous_secret,
            api_key_id=row.api_key_id,
        )
