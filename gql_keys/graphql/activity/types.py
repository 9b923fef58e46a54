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
from gql_keys.key_cache import KeyCache
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

    @strawberry.field(
        description="The key when the event is sent. For KEY_USED and KEY_DENIED, as the "
        "verification cache holds it (changes reach it at once; lastUsedAt may lag a few "
        "seconds)."
    )
    async def api_key(self, info: Info) -> ApiKeyRef | None:
        from gql_keys.graphql.keys.types import ApiKeyType

        if self.api_key_id is None:
            return None
        # Not the per-context DataLoader: over a WebSocket the context lives for hours.
        # Read once per event, for every subscriber; a subscriber that goes away while
        # the read runs does not cancel it for the others.
        if self.key_read is None:
            cache = info.context.rt.key_cache if self.kind in _VERIFICATIONS else None
            self.key_read = asyncio.ensure_future(_read_key(self.api_key_id, self.key, cache))
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


_VERIFICATIONS = frozenset({ActivityKind.KEY_USED, ActivityKind.KEY_DENIED})


async def _read_key(pk: int, key: str | None, cache: KeyCache | None) -> ApiKey | None:
    """The key's row: from the verification cache when it holds this key (a verification
    event's key was just looked up there, so this is a dictionary hit at a hundred
    events a second instead of a query each), else from the database."""
    if cache is not None and key is not None:
        record = await cache.get(key)
        if record is not None and record.id == pk:
            row: ApiKey = record.row
            return row
    return (await keys_by_ids([pk])).get(pk)
