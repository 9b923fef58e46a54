"""DataLoaders, created lazily once per request and kept in ``info.context.loaders``.

Each loader batches the loads of one resolver tick into one SQL query, so a page of
100 objects costs the same number of queries as a page of one. Over a WebSocket the
context lives as long as the socket, so subscriptions use ``fresh_*`` helpers instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from strawberry.dataloader import DataLoader

from gql_keys.graphql.context import Context
from gql_keys.models import ApiKey, SubAccount
from gql_keys.services.keys import keys_by_ids
from gql_keys.services.sub_accounts import sub_accounts_by_ids
from gql_keys.services.usage import Bucket, BucketSize, usage_buckets

UsageKey = tuple[int, datetime, datetime | None, BucketSize]


async def _load_keys(ids: Sequence[int]) -> list[ApiKey | None]:
    rows = await keys_by_ids(list(set(ids)))
    return [rows.get(pk) for pk in ids]


async def _load_sub_accounts(ids: Sequence[int]) -> list[SubAccount | None]:
    rows = await sub_accounts_by_ids(list(set(ids)))
    return [rows.get(pk) for pk in ids]


async def _load_usage(keys: Sequence[UsageKey]) -> list[list[Bucket]]:
    # One query per distinct (since, until, bucket) window: normally exactly one.
    windows: dict[tuple[datetime, datetime | None, BucketSize], list[int]] = defaultdict(list)
    for pk, since, until, size in keys:
        windows[(since, until, size)].append(pk)
    found: dict[UsageKey, list[Bucket]] = {}
    for (since, until, size), ids in windows.items():
        per_key = await usage_buckets(sorted(set(ids)), since, until, size)
        for pk in ids:
            found[(pk, since, until, size)] = per_key.get(pk, [])
    return [found[key] for key in keys]


def api_key_loader(context: Context) -> DataLoader[int, ApiKey | None]:
    """ApiKey rows by primary key; callers decide whether the principal may see them."""
    loader = context.loaders.get("api_key_by_id")
    if loader is None:
        loader = DataLoader(load_fn=_load_keys)
        context.loaders["api_key_by_id"] = loader
    result: DataLoader[int, ApiKey | None] = loader
    return result


def sub_account_loader(context: Context) -> DataLoader[int, SubAccount | None]:
    """SubAccount rows by primary key (deleted included); callers decide who may see them."""
    loader = context.loaders.get("sub_account_by_id")
    if loader is None:
        loader = DataLoader(load_fn=_load_sub_accounts)
        context.loaders["sub_account_by_id"] = loader
    result: DataLoader[int, SubAccount | None] = loader
    return result


def usage_loader(context: Context) -> DataLoader[UsageKey, list[Bucket]]:
    """Usage buckets (from rollups) per (key id, since, until, bucket size)."""
    loader = context.loaders.get("usage_by_key")
    if loader is None:
        loader = DataLoader(load_fn=_load_usage)
        context.loaders["usage_by_key"] = loader
    result: DataLoader[UsageKey, list[Bucket]] = loader
    return result
