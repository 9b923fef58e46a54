"""The in-memory replay cache could be made to forget a live fingerprint.

Once more fingerprints than ``max_entries`` had been seen (or forgotten) inside one
window, the oldest live ones were evicted and a replay of them passed. Now only expired
entries are evicted; a cache full of live ones refuses (``SERVICE_UNAVAILABLE``).
"""

from __future__ import annotations

import logging

import pytest

from gql_keys.domain_errors import ServiceUnavailable
from gql_keys.limits.memory import MemoryReplayCache


async def test_flooding_the_replay_cache_never_forgets_a_live_fingerprint() -> None:
    cache = MemoryReplayCache(max_entries=100)
    assert await cache.first_seen("victim", 60.0, 1000.0)
    for i in range(99):
        assert await cache.first_seen(f"junk-{i}", 60.0, 1000.0)
    with pytest.raises(ServiceUnavailable):
        await cache.first_seen("one-too-many", 60.0, 1001.0)
    assert not await cache.first_seen("victim", 60.0, 1002.0)


async def test_forgotten_fingerprints_do_not_push_live_ones_out() -> None:
    cache = MemoryReplayCache(max_entries=10)
    assert await cache.first_seen("victim", 60.0, 1000.0)
    for i in range(50):
        assert await cache.first_seen(f"refused-{i}", 60.0, 1000.0)
        await cache.forget(f"refused-{i}")
    assert not await cache.first_seen("victim", 60.0, 1001.0)


async def test_expired_fingerprints_make_room_and_a_replay_after_expiry_is_new() -> None:
    cache = MemoryReplayCache(max_entries=2)
    assert await cache.first_seen("a", 10.0, 1000.0)
    assert await cache.first_seen("b", 100.0, 1000.0)
    assert await cache.first_seen("c", 10.0, 1011.0)  # "a" expired: room for "c"
    assert not await cache.first_seen("b", 10.0, 1012.0)
    assert len(cache) == 2


async def test_a_full_replay_cache_is_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    full: list[int] = []
    cache = MemoryReplayCache(max_entries=1, on_full=lambda: full.append(1))
    assert await cache.first_seen("a", 60.0, 1000.0)
    with caplog.at_level(logging.WARNING), pytest.raises(ServiceUnavailable):
        await cache.first_seen("b", 60.0, 1000.0)
    assert full == [1]
    assert "replay cache is full" in caplog.text
