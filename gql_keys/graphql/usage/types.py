"""The ``UsageLog`` type and the ``UsageLogFilter`` input."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_keys.global_ids import encode_global_id
from gql_keys.graphql.context import Info
from gql_keys.graphql.enums import Scope, VerificationCode
from gql_keys.graphql.loaders import api_key_loader
from gql_keys.graphql.node import Node
from gql_keys.services.keys import may_read_key
from gql_keys.services.usage import LogRow

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
    api_key: ApiKeyRef | None = strawberry.field(
        description="The key, when the KEY header named one that exists."
    )

    @classmethod
    def from_row(cls, row: LogRow, api_key: ApiKeyType | None) -> UsageLogType:
        """The node of ``row``; ``api_key`` is its key when the reader may see it."""
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
            api_key=api_key,
        )


async def usage_log_nodes(
    info: Info, rows: Sequence[LogRow], with_keys: bool
) -> list[UsageLogType]:
    """The nodes of ``rows``. With ``with_keys`` (the operation asks for ``apiKey``), the
    keys of the whole page come in one batch through the request's loader and each node
    holds its key (or null: unknown, or not one the principal may read), so ``apiKey``
    is a plain field rather than an ``async`` resolver per row."""
    from gql_keys.graphql.keys.types import ApiKeyType

    keys: dict[int, ApiKeyType] = {}
    ids = sorted({row.api_key_id for row in rows if row.api_key_id is not None})
    if with_keys and ids:
        principal = info.context.principal
        for key_row in await api_key_loader(info.context).load_many(ids):
            if key_row is not None and may_read_key(principal, key_row):
                keys[key_row.id] = ApiKeyType.from_row(key_row)
    return [
        UsageLogType.from_row(row, keys.get(row.api_key_id) if row.api_key_id is not None else None)
        for row in rows
    ]
