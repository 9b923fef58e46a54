"""Key queries: the scope catalogue, the caller's keys, one key, and ``node`` for keys."""

from __future__ import annotations

import strawberry

from gql_keys.domain_errors import Unauthenticated
from gql_keys.graphql.context import Info
from gql_keys.graphql.keys.scopes import ScopeInfo
from gql_keys.graphql.keys.types import ApiKeyType
from gql_keys.graphql.node import decode_int_id, int_pk
from gql_keys.graphql.pagination import (
    Connection,
    connection,
    decode_id_cursor,
    encode_cursor,
    page_size,
)
from gql_keys.graphql.permissions import require_user
from gql_keys.scopes import CATALOG
from gql_keys.services import keys as service

ApiKeyConnection = Connection[ApiKeyType]


async def load_api_key(info: Info, pk: int) -> ApiKeyType | None:
    """A key the caller may read (:func:`services.keys.may_read_key`), else None."""
    row = await service.readable_key(info.context.principal, pk)
    return ApiKeyType.from_row(row) if row is not None else None


async def load_api_key_node(info: Info, pk: str) -> ApiKeyType | None:
    key_id = int_pk(pk)
    return await load_api_key(info, key_id) if key_id is not None else None


@strawberry.type
class Query:
    @strawberry.field(description="Every scope a key can carry, with its title and area.")
    def scope_catalog(self) -> list[ScopeInfo]:
        return [ScopeInfo.from_description(entry) for entry in CATALOG]

    @strawberry.field(
        description="The caller's keys, newest first. unusedForDays: only live keys with no "
        "allowed request (or none since creation) for at least that many days; "
        "includeDeleted is then ignored."
    )
    async def api_keys(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        include_deleted: bool | None = False,
        unused_for_days: int | None = None,
    ) -> ApiKeyConnection:
        principal = require_user(info)
        limit = page_size(first)
        if unused_for_days is not None:
            page = await service.list_unused_keys(
                info.context.rt, principal.user_id, unused_for_days, decode_id_cursor(after), limit
            )
        else:
            page = await service.list_keys(
                principal.user_id, bool(include_deleted), decode_id_cursor(after), limit
            )
        return connection(
            [ApiKeyType.from_row(row) for row in page.rows],
            [encode_cursor([row.id]) for row in page.rows],
            page.has_next_page,
            page.total_count,
        )

    @strawberry.field(description="One of the caller's keys; null for anyone else's.")
    async def api_key(self, info: Info, id: strawberry.ID) -> ApiKeyType | None:
        if info.context.principal is None:
            raise Unauthenticated()
        pk = decode_int_id(id, "ApiKey")
        if pk is None:
            return None
        return await load_api_key(info, pk)
