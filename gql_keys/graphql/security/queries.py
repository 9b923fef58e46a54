"""``securityEvents`` and ``sessions``: the viewer's own, and ``node`` for both types."""

from __future__ import annotations

import strawberry

from gql_keys.graphql.context import Info
from gql_keys.graphql.node import int_pk
from gql_keys.graphql.pagination import (
    Connection,
    connection,
    decode_time_cursor,
    encode_time_cursor,
    page_size,
)
from gql_keys.graphql.permissions import require_user
from gql_keys.graphql.security.types import SecurityEventType, SessionType
from gql_keys.principals import UserPrincipal
from gql_keys.services import security_events, sessions

SecurityEventConnection = Connection[SecurityEventType]


@strawberry.type
class Query:
    @strawberry.field(description="The viewer's security log, newest first.")
    async def security_events(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> SecurityEventConnection:
        principal = require_user(info)
        limit = page_size(first)
        page = await security_events.page_events(
            principal.user_id, limit, decode_time_cursor(after)
        )
        return connection(
            [SecurityEventType.from_row(row) for row in page.rows],
            [encode_time_cursor(row.occurred_at, row.id) for row in page.rows],
            page.has_next_page,
            page.total_count,
        )

    @strawberry.field(description="The viewer's live sessions, newest first.")
    async def sessions(self, info: Info) -> list[SessionType]:
        principal = require_user(info)
        rows = await sessions.live_sessions(info.context.rt, principal.user_id)
        return [SessionType.from_row(row, principal.session_id) for row in rows]


def _viewer_pk(info: Info, pk: str) -> tuple[UserPrincipal, int] | None:
    principal = info.context.principal
    number = int_pk(pk)
    if not isinstance(principal, UserPrincipal) or number is None:
        return None
    return principal, number


async def load_security_event_node(info: Info, pk: str) -> SecurityEventType | None:
    found = _viewer_pk(info, pk)
    if found is None:
        return None
    principal, event_id = found
    row = await security_events.get_event(principal.user_id, event_id)
    return SecurityEventType.from_row(row) if row is not None else None


async def load_session_node(info: Info, pk: str) -> SessionType | None:
    found = _viewer_pk(info, pk)
    if found is None:
        return None
    principal, session_id = found
    row = await sessions.live_session(info.context.rt, principal.user_id, session_id)
    return SessionType.from_row(row, principal.session_id) if row is not None else None
