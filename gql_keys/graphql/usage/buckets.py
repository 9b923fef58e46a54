"""``ApiKey.usage``: allowed/denied counts per bucket, read from rollups via a DataLoader.

Kept apart from ``types.py`` so that the ``ApiKey`` type can import the resolver
without an import cycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from gql_keys.graphql.context import Info
from gql_keys.graphql.enums import BucketSize
from gql_keys.graphql.loaders import usage_loader
from gql_keys.services.usage import check_usage_window


@strawberry.type
class UsageBucket:
    start: datetime
    allowed: int
    denied: int


async def resolve_usage(
    root: Any,
    info: Info,
    since: datetime,
    until: datetime | None = None,
    bucket: BucketSize | None = BucketSize.HOUR,
) -> list[UsageBucket]:
    """Allowed and denied counts per bucket from ``since`` (its bucket included) to
    ``until`` (now when null); empty buckets are omitted. Served from rollup counters."""
    size = BucketSize(bucket) if bucket is not None else BucketSize.HOUR
    check_usage_window(since, until, size, info.context.rt.clock.now())
    pk = int(root.row.id)
    found = await usage_loader(info.context).load((pk, since, until, size))
    return [UsageBucket(start=b.start, allowed=b.allowed, denied=b.denied) for b in found]


usage_field: Any = strawberry.field(
    resolver=resolve_usage,
    description="Allowed and denied requests per MINUTE, HOUR or DAY bucket, from rollups.",
)
