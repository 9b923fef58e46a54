"""The ``SecurityEvent`` and ``Session`` types."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_keys.global_ids import encode_global_id
from gql_keys.graphql.context import Info
from gql_keys.graphql.enums import SecurityEventKind
from gql_keys.graphql.loaders import api_key_loader, sub_account_loader
from gql_keys.graphql.node import Node
from gql_keys.models import SecurityEvent as SecurityEventRow
from gql_keys.models import Session as SessionRow

if TYPE_CHECKING:
    from gql_keys.graphql.keys.types import ApiKeyType
    from gql_keys.graphql.sub_accounts.types import SubAccountType

ApiKeyRef = Annotated["ApiKeyType", strawberry.lazy("gql_keys.graphql.keys.types")]
SubAccountRef = Annotated["SubAccountType", strawberry.lazy("gql_keys.graphql.sub_accounts.types")]


@strawberry.type(name="SecurityEvent", description="Something that happened to the account.")
class SecurityEventType(Node):
    kind: SecurityEventKind
    occurred_at: datetime
    ip: str | None = strawberry.field(description="The client address of the request.")
    user_agent: str | None = strawberry.field(description="Cut to 256 characters.")
    key_label: str | None = strawberry.field(
        description="For key events: the key's label when the event happened (apiKey.label "
        "is its label now). Null for account events and events recorded before labels "
        "were kept."
    )
    api_key_id: strawberry.Private[int | None]
    sub_account_id: strawberry.Private[int | None]

    @strawberry.field(description="The sub-account, for sub-account events and events of its keys.")
    async def sub_account(self, info: Info) -> SubAccountRef | None:
        from gql_keys.graphql.sub_accounts.types import SubAccountType

        pk = self.sub_account_id
        if pk is None and self.api_key_id is not None:
            key = await api_key_loader(info.context).load(self.api_key_id)
            pk = key.sub_account_id if key is not None else None
        if pk is None:
            return None
        row = await sub_account_loader(info.context).load(pk)
        return SubAccountType.from_row(row) if row is not None else None

    @strawberry.field(description="The key, for key events.")
    async def api_key(self, info: Info) -> ApiKeyRef | None:
        from gql_keys.graphql.keys.types import ApiKeyType

        if self.api_key_id is None:
            return None
        row = await api_key_loader(info.context).load(self.api_key_id)
        return ApiKeyType.from_row(row) if row is not None else None

    @classmethod
    def from_row(cls, row: SecurityEventRow) -> SecurityEventType:
        return cls(
            id=strawberry.ID(encode_global_id("SecurityEvent", row.id)),
            kind=SecurityEventKind(row.kind),
            occurred_at=row.occurred_at,
            ip=row.client_ip,
            user_agent=row.user_agent,
            key_label=row.key_label,
            api_key_id=row.api_key_id,
            sub_account_id=row.sub_account_id,
        )


@strawberry.type(name="Session", description="A logged-in dashboard session.")
class SessionType(Node):
    created_at: datetime
    last_seen_at: datetime = strawberry.field(description="Updated at most once a minute.")
    ip: str | None = strawberry.field(description="The client address at login.")
    user_agent: str | None = strawberry.field(description="The user agent at login.")
    current: bool = strawberry.field(description="Whether this is the calling session.")

    @classmethod
    def from_row(cls, row: SessionRow, current_session_id: int) -> SessionType:
        return cls(
            id=strawberry.ID(encode_global_id("Session", row.id)),
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            ip=row.client_ip,
            user_agent=row.user_agent,
            current=row.id == current_session_id,
        )
