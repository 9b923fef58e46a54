"""``subAccounts``: the viewer's sub-accounts, and ``node`` for ``SubAccount``."""

from __future__ import annotations

import strawberry

from gql_keys.graphql.context import Info
from gql_keys.graphql.node import int_pk
from gql_keys.graphql.pagination import (
    Connection,
    connection,
    decode_id_cursor,
    encode_cursor,
    page_size,
)
from gql_keys.graphql.permissions import require_user
from gql_keys.graphql.sub_accounts.types import SubAccountType
from gql_keys.services import sub_accounts as service

SubAccountConnection = Connection[SubAccountType]


@strawberry.type
class Query:
    @strawberry.field(description="The viewer's sub-accounts (not deleted), newest first.")
    async def sub_accounts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> SubAccountConnection:
        principal = require_user(info)
        limit = page_size(first)
        page = await service.page_sub_accounts(principal.user_id, decode_id_cursor(after), limit)
        return connection(
            [SubAccountType.from_row(row) for row in page.rows],
            [encode_cursor([row.id]) for row in page.rows],
            page.has_next_page,
            page.total_count,
        )


async def load_sub_account_node(info: Info, pk: str) -> SubAccountType | None:
    number = int_pk(pk)
    if number is None:
        return None
    row = await service.readable_live_sub_account(info.context.principal, number)
    return SubAccountType.from_row(row) if row is not None else None
