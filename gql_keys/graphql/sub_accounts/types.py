"""The ``SubAccount`` type."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_keys.global_ids import encode_global_id
from gql_keys.graphql.context import Info
from gql_keys.graphql.node import Node
from gql_keys.graphql.pagination import (
    Connection,
    connection,
    decode_id_cursor,
    encode_cursor,
    page_size,
)
from gql_keys.models import SubAccount as SubAccountRow
from gql_keys.services import sub_accounts as service

if TYPE_CHECKING:
    from gql_keys.graphql.keys.types import ApiKeyType

ApiKeyRef = Annotated["ApiKeyType", strawberry.lazy("gql_keys.graphql.keys.types")]


@strawberry.type(
    name="SubAccount",
    description="A desk, strategy or client run by its master account: no password, no "
    "sign-in; its keys are managed by the master with the master's own second factor.",
)
class SubAccountType(Node):
    label: str
    created_at: datetime
    locked: bool = strawberry.field(
        description="A locked sub-account's keys are denied ACCOUNT_LOCKED."
    )
    deleted_at: datetime | None = strawberry.field(
        description="Set once deleted (then only its keys' history still names it)."
    )
    row: strawberry.Private[SubAccountRow]

    @strawberry.field(description="Its keys, newest first (as far as the caller may read keys).")
    async def api_keys(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        include_deleted: bool | None = False,
    ) -> Connection[ApiKeyRef]:
        from gql_keys.graphql.keys.types import ApiKeyType

        rows, has_next, total = await service.keys_of_sub_account(
            info.context.principal,
            self.row,
            bool(include_deleted),
            decode_id_cursor(after),
            page_size(first),
        )
        return connection(
            [ApiKeyType.from_row(row) for row in rows],
            [encode_cursor([row.id]) for row in rows],
            has_next,
            total,
        )

    @classmethod
    def from_row(cls, row: SubAccountRow) -> SubAccountType:
        return cls(
            id=strawberry.ID(encode_global_id("SubAccount", row.id)),
            label=row.label,
            created_at=row.created_at,
            locked=row.locked_at is not None,
            deleted_at=row.deleted_at,
            row=row,
        )
