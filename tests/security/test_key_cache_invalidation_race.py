"""A verification arriving after a key was deleted joined the cache's load of that key
already in flight, started before the delete: it got the pre-delete record (a deleted key
answered VALID for that request). A load overtaken by an invalidation is now neither
joined nor stored; a later lookup reads the key afresh."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gql_keys import key_cache
from gql_keys.repositories.keys import key_by_public_id
from gql_keys.runtime import Runtime
from gql_keys.services.keys import delete_key
from harness.accounts import LOCAL_CLIENT
from harness.keys import create_active_key, create_user


async def test_a_lookup_after_a_delete_does_not_join_the_load_from_before_it(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await create_user()
    row, _ = await create_active_key(rt, user.id)
    read_before_delete = asyncio.Event()
    release = asyncio.Event()
    calls = 0

    async def slow_first_read(key: str) -> Any:
        # The first load reads the live row, then is slow to come back (a busy pool).
        nonlocal calls
        calls += 1
        found = await key_by_public_id(key)
        if calls == 1:
            read_before_delete.set()
            await release.wait()
        return found

    monkeypatch.setattr(key_cache, "key_by_public_id", slow_first_read)
    cache = rt.key_cache
    early = asyncio.create_task(cache.get(row.key))
    await read_before_delete.wait()

    await delete_key(rt, user.id, row.id, LOCAL_CLIENT)  # commits, then invalidates
    late = asyncio.create_task(cache.get(row.key))
    await asyncio.sleep(0.05)
    release.set()

    after_delete = await late
    assert after_delete is not None
    assert after_delete.deleted
    before_delete = await early
    assert before_delete is not None
    assert not before_delete.deleted
    cached = await cache.get(row.key)  # the stale load stored nothing over the fresh one
    assert cached is not None
    assert cached.deleted
