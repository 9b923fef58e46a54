"""The key cache cleared its whole generation map once 10,000 keys had been
invalidated, so a load already in flight could store a record read before a delete
(and serve it until the cache entry expired). A load that overlaps an invalidation of
its key never stores its result now, however many other keys were invalidated."""

from __future__ import annotations

import asyncio

from gql_keys.runtime import Runtime
from tests.support.keys import create_active_key, create_user


async def test_a_load_overlapping_an_invalidation_is_not_cached_after_a_flood(
    rt: Runtime,
) -> None:
    user = await create_user()
    row, _ = await create_active_key(rt, user.id)
    cache = rt.key_cache
    loading = asyncio.create_task(cache.get(row.key))
    await asyncio.sleep(0)  # the load has read its generation and awaits the database
    assert not loading.done()
    await cache.invalidate(row.key)  # e.g. the key was deleted meanwhile
    for i in range(10_001):  # a flood of other invalidations
        await cache.invalidate(f"other-{i}")
    assert (await loading) is not None  # the load itself answers what it read
    assert len(cache) == 0  # ... but does not keep it
