"""Events leave only after their transaction commits; the hub's fan-out rules."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import pytest
from tortoise.transactions import in_transaction

from gql_keys.broker.events import ActivityEvent, ActivityKind, ControlKind
from gql_keys.broker.hub import Hub, Interest, SlowConsumer
from gql_keys.domain_errors import ServiceUnavailable
from gql_keys.models import UsageLog, UsageRollup
from gql_keys.repositories.usage_writes import LastUse, RollupDelta, write_batch
from gql_keys.runtime import Runtime
from gql_keys.sockets import SocketRegistry
from gql_keys.usage.writer import UsageWriter
from harness.keys import create_active_key, create_user
from tests.api.usage_support import entry, record


class RolledBack(Exception):
    pass


async def test_nothing_is_published_for_a_rolled_back_batch(rt: Runtime) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    subscriber = rt.hub.subscribe(lambda event: True)

    async def write_then_fail(
        connection_name: str,
        rows: list[tuple[object, ...]],
        rollups: list[RollupDelta],
        last_uses: list[LastUse],
    ) -> list[int]:
        async with in_transaction(connection_name):
            await write_batch(connection_name, rows, rollups, last_uses)
            raise RolledBack()

    writer = UsageWriter(
        rt.usage_writer.connection_name, rt.broker, rt.metrics, writer=write_then_fail
    )
    await writer.start()
    try:
        with pytest.raises(ServiceUnavailable):
            await writer.record(entry(key, datetime.now(UTC)))
    finally:
        await writer.close()
    assert await UsageLog.all().count() == 0
    assert await UsageRollup.all().count() == 0
    assert subscriber.queue.empty()
    # The real writer, committing, publishes exactly its rows.
    ids = await record(rt, entry(key, datetime.now(UTC)))
    event = await asyncio.wait_for(subscriber.next(), 10)
    assert (event.id, event.kind) == (str(ids[0]), ActivityKind.KEY_USED)
    rt.hub.unsubscribe(subscriber)


def event(n: int, owner: int = 1, key: int | None = 10) -> ActivityEvent:
    return ActivityEvent(
        id=str(n),
        kind=ActivityKind.KEY_USED,
        occurred_at=datetime.now(UTC),
        owner_id=owner,
        api_key_id=key,
    )


def ids(events: Sequence[ActivityEvent]) -> list[str]:
    return [e.id for e in events]


async def test_hub_hands_each_subscriber_only_what_it_accepts() -> None:
    hub = Hub(queue_size=10)
    mine = hub.subscribe(lambda e: e.owner_id == 1)
    everything = hub.subscribe(lambda e: True)
    for n, owner in ((1, 1), (2, 2), (3, 1)):
        hub.deliver(event(n, owner))
    assert ids([mine.queue.get_nowait() for _ in range(mine.queue.qsize())]) == ["1", "3"]
    assert everything.queue.qsize() == 3


async def test_a_users_subscriber_is_never_asked_about_other_owners_events() -> None:
    hub = Hub(queue_size=10)
    asked: dict[str, list[str]] = {"user": [], "monitor": []}

    def recording(name: str) -> Callable[[ActivityEvent], bool]:
        def accepts(e: ActivityEvent) -> bool:
            asked[name].append(e.id)
            return True

        return accepts

    user = hub.subscribe(Interest(recording("user"), frozenset([1])))
    monitor = hub.subscribe(Interest(recording("monitor")))
    for n, owner in ((1, 1), (2, 2), (3, 1), (4, 3)):
        hub.deliver(event(n, owner))
    hub.deliver(
        ActivityEvent(
            id="5", kind=ActivityKind.KEY_USED, occurred_at=datetime.now(UTC), owner_id=None
        )
    )
    assert asked == {"user": ["1", "3"], "monitor": ["1", "2", "3", "4", "5"]}
    assert (user.queue.qsize(), monitor.queue.qsize()) == (2, 5)
    assert hub.subscriber_count == 2
    hub.unsubscribe(user)
    hub.unsubscribe(user)  # twice: counted once
    hub.deliver(event(6, 1))
    assert asked["user"] == ["1", "3"]
    assert hub.subscriber_count == 1


async def test_overflowing_subscriber_is_dropped_and_told_once() -> None:
    hub = Hub(queue_size=2)
    told: list[str] = []
    slow = hub.subscribe(lambda e: True, on_overflow=lambda: told.append("closed"))
    fine = hub.subscribe(lambda e: e.id == "9")
    for n in range(5):
        hub.deliver(event(n))
    hub.deliver(event(9))
    assert told == ["closed"]
    assert hub.subscriber_count == 1
    assert slow.queue.qsize() <= 1  # the backlog is freed at once
    with pytest.raises(SlowConsumer):
        await slow.next()
    assert (await fine.next()).id == "9"


async def test_session_ended_event_closes_only_that_sessions_sockets() -> None:
    sockets = SocketRegistry(max_per_principal=5)
    hub = Hub(on_session_ended=sockets.close_session)
    closed: list[tuple[str, int]] = []

    def closer(name: str) -> Callable[[int, str], Awaitable[None]]:
        async def close(code: int, reason: str) -> None:
            closed.append((name, code))

        return close

    assert sockets.register(1, "user:1", 100, closer("a"))
    assert sockets.register(2, "user:1", 101, closer("b"))
    hub.deliver(
        ActivityEvent(
            id="e1",
            kind=ControlKind.SESSION_ENDED,
            occurred_at=datetime.now(UTC),
            owner_id=None,
            session_id=100,
        )
    )
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert closed == [("a", 4401)]
    assert sockets.count("user:1") == 1


async def test_connections_per_principal_are_capped() -> None:
    sockets = SocketRegistry(max_per_principal=2)

    async def close(code: int, reason: str) -> None:
        return None

    assert sockets.register(1, "service:1", None, close)
    assert sockets.register(2, "service:1", None, close)
    assert not sockets.register(3, "service:1", None, close)
    assert sockets.register(4, "service:2", None, close)
    sockets.unregister(1)
    assert sockets.register(3, "service:1", None, close)
