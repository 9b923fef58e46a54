"""``KeyActivityEvent``."""

from __future__ import annotations

import asyncio
from dataclasses import field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gql_keys.broker.events import ActivityEvent
from gql_keys.graphql.context import Info
from gql_keys.graphql.enums import ActivityKind, VerificationCode
from gql_keys.models import ApiKey
from gql_keys.services.keys import keys_by_ids

if TYPE_CHECKING:
    from gql_keys.graphql.keys.types import ApiKeyType

ApiKeyRef = Annotated["ApiKeyType", strawberry.lazy("gql_keys.graphql.keys.types")]


@strawberry.type(
    name="KeyActivityEvent",
    description="Something that happened to a key. For KEY_USED and KEY_DENIED the id is "
    "the usage-log row id, so ids grow and a client can backfill from usageLogs.",
)
class KeyActivityEventType:
    id: strawberry.ID
    kind: ActivityKind
    occurred_at: datetime
    key: str | None
    code: VerificationCode | None
    client_ip: str | None
    method: str | None
    path: str | None
    api_key_id: strawberry.Private[int | None]
    # One instance per event serves every subscriber (gql_keys.graphql.activity.sharing):
    # results executed for them, and the one read of the key.
    shared_results: strawberry.Private[dict[Any, Any]] = field(default_factory=dict)
    key_read: strawberry.Private[asyncio.Future[ApiKey | None] | None] = None

    @strawberry.field(description="The key, read when the event is sent.")
    async def api_key(self, info: Info) -> ApiKeyRef | None:
        from gql_keys.graphql.keys.types import ApiKeyType

        if self.api_key_id is None:
            return None
        # Not the per-context DataLoader: over a WebSocket the context lives for hours.
        # Read once per event, for every subscriber; a subscriber that goes away while
        # the read runs does not cancel it for the others.
        if self.key_read is None:
            self.key_read = asyncio.ensure_future(_read_key(self.api_key_id))
        row = await asyncio.shield(self.key_read)
        return ApiKeyType.from_row(row) if row is not None else None

    @classmethod
    def from_event(cls, event: ActivityEvent) -> KeyActivityEventType:
        return cls(
            id=strawberry.ID(event.id),
            kind=ActivityKind(event.kind),
            occurred_at=event.occurred_at,
            key=event.key,
            code=VerificationCode(event.code) if event.code else None,
            client_ip=event.client_ip,
            method=event.method,
            path=event.path,
            api_key_id=event.api_key_id,
        )


async def _read_key(pk: int) -> ApiKey | None:
    return (await keys_by_ids([pk])).get(pk)
