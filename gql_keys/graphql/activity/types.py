"""``KeyActivityEvent`` and ``KeyActivityKind``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql_keys.broker.events import ActivityEvent
from gql_keys.graphql.context import Info
from gql_keys.graphql.usage.codes import VerificationCodeEnum
from gql_keys.services.keys import keys_by_ids

if TYPE_CHECKING:
    from gql_keys.graphql.keys.types import ApiKeyType

ApiKeyRef = Annotated["ApiKeyType", strawberry.lazy("gql_keys.graphql.keys.types")]


class KeyActivityKind(StrEnum):
    KEY_CREATED = "KEY_CREATED"
    KEY_UPDATED = "KEY_UPDATED"
    KEY_ROLLED = "KEY_ROLLED"
    KEY_DELETED = "KEY_DELETED"
    KEY_EXPIRING = "KEY_EXPIRING"
    KEY_USED = "KEY_USED"
    KEY_DENIED = "KEY_DENIED"
    TWO_FACTOR_FAILED = "TWO_FACTOR_FAILED"


KeyActivityKindEnum = strawberry.enum(KeyActivityKind, name="KeyActivityKind")


@strawberry.type(
    name="KeyActivityEvent",
    description="Something that happened to a key. For KEY_USED and KEY_DENIED the id is "
    "the usage-log row id, so ids grow and a client can backfill from usageLogs.",
)
class KeyActivityEventType:
    id: strawberry.ID
    kind: KeyActivityKindEnum  # type: ignore[valid-type]
    occurred_at: datetime
    key: str | None
    code: VerificationCodeEnum | None  # type: ignore[valid-type]
    client_ip: str | None
    method: str | None
    path: str | None
    api_key_id: strawberry.Private[int | None]

    @strawberry.field(description="The key, read when the event is sent.")
    async def api_key(self, info: Info) -> ApiKeyRef | None:
        from gql_keys.graphql.keys.types import ApiKeyType

        if self.api_key_id is None:
            return None
        # Not the per-context DataLoader: over a WebSocket the context lives for hours.
        row = (await keys_by_ids([self.api_key_id])).get(self.api_key_id)
        return ApiKeyType.from_row(row) if row is not None else None

    @classmethod
    def from_event(cls, event: ActivityEvent) -> KeyActivityEventType:
        return cls(
            id=strawberry.ID(event.id),
            kind=KeyActivityKind(event.kind.value),
            occurred_at=event.occurred_at,
            key=event.key,
            code=VerificationCodeEnum(event.code) if event.code else None,
            client_ip=event.client_ip,
            method=event.method,
            path=event.path,
            api_key_id=event.api_key_id,
        )
