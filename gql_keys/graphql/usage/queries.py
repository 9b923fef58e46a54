"""``usageLogs``: a caller's usage logs, newest first, and ``node`` for ``UsageLog``."""

from __future__ import annotations

import strawberry

from gql_keys.graphql.context import Info
from gql_keys.graphql.node import decode_int_id, int_pk
from gql_keys.graphql.pagination import (
    Edge,
    PageInfo,
    decode_time_cursor,
    encode_time_cursor,
    page_size,
)
from gql_keys.graphql.permissions import require_principal
from gql_keys.graphql.selection import selects
from gql_keys.graphql.usage.types import UsageLogFilter, UsageLogType, usage_log_nodes
from gql_keys.services import usage as service
from gql_keys.services.usage import LogFilter, LogScope


@strawberry.type(description="A page of usage logs, newest first.")
class UsageLogConnection:
    edges: list[Edge[UsageLogType]]
    nodes: list[UsageLogType]
    page_info: PageInfo
    scope: strawberry.Private[LogScope]
    log_filter: strawberry.Private[LogFilter]

    @strawberry.field(description="Rows matching the filter (counted only when asked for).")
    async def total_count(self) -> int:
        return await service.count_logs(self.scope, self.log_filter)


# No row has this id: a filter naming something that is not an id of its type matches
# nothing (another account's key or sub-account matches nothing either).
NO_KEY = -1


def _log_filter(flt: UsageLogFilter | None) -> LogFilter:
    if flt is None:
        return LogFilter()
    key_id = sub_account_id = None
    if flt.key_id is not None:
        key_id = decode_int_id(flt.key_id, "ApiKey") or NO_KEY
    if flt.sub_account_id is not None:
        sub_account_id = decode_int_id(flt.sub_account_id, "SubAccount") or NO_KEY
    return LogFilter(
        api_key_id=key_id,
        sub_account_id=sub_account_id,
        # A closed set: duplicates only make the SQL longer.
        codes=tuple(sorted({str(c) for c in flt.codes})) if flt.codes is not None else None,
        allowed=flt.allowed,
        since=flt.since,
        until=flt.until,
        client_ip=flt.client_ip,
        signed_with_previous_secret=flt.signed_with_previous_secret,
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="Verification decisions newest first: a user's own keys, an API key's "
        "own rows, or every row for a monitor service token."
    )
    async def usage_logs(
        self,
        info: Info,
        filter: UsageLogFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> UsageLogConnection:
        scope = service.log_scope(require_principal(info))
        limit = page_size(first)
        log_filter = _log_filter(filter)
        page = await service.page_logs(scope, log_filter, limit, decode_time_cursor(after))
        rows = page.rows
        with_keys = selects(info, ("nodes", "apiKey")) or selects(info, ("edges", "node", "apiKey"))
        nodes = await usage_log_nodes(info, rows, with_keys)
        # Cursors only when asked for (each is JSON in base64); pageInfo's is the last row's.
        edges = (
            [
                Edge(cursor=encode_time_cursor(row.occurred_at, row.id), node=node)
                for row, node in zip(rows, nodes, strict=True)
            ]
            if selects(info, ("edges",))
            else []
        )
        end_cursor = encode_time_cursor(rows[-1].occurred_at, rows[-1].id) if rows else None
        return UsageLogConnection(
            edges=edges,
            nodes=nodes,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=end_cursor),
            scope=scope,
            log_filter=log_filter,
        )


async def load_usage_log_node(info: Info, pk: str) -> UsageLogType | None:
    log_id = int_pk(pk)
    if log_id is None:
        return None
    row = await service.log_by_id(info.context.principal, log_id)
    if row is None:
        return None
    (node,) = await usage_log_nodes(info, [row], with_keys=selects(info, ("apiKey",)))
    return node
