"""Many sockets per worker: shared work per event, shared credential checks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gql_keys.broker.events import ActivityEvent, ActivityKind
from gql_keys.global_ids import encode_global_id
from gql_keys.graphql.activity import sharing, types
from gql_keys.models import ApiKey, Session
from gql_keys.runtime import Runtime
from gql_keys.services.keys import delete_key
from gql_keys.services.sessions import start_session
from gql_keys.settings import Settings
from harness.accounts import LOCAL_CLIENT
from harness.keys import create_active_key, create_user, monitor_token
from tests.ws.support import LEGACY_WS, TRANSPORT_WS, GraphQLSocket, open_socket

SHORT = "subscription { keyActivity { id kind } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(ws_reauth_seconds=0.2)


def used(key: ApiKey, n: int) -> ActivityEvent:
    return ActivityEvent(
        id=str(n),
        kind=ActivityKind.KEY_USED,
        occurred_at=datetime.now(UTC),
        owner_id=key.user_id,
        api_key_id=key.id,
        key=key.key,
        code="VALID",
        client_ip="203.0.113.7",
        method="GET",
        path="/api/v4/spot/orders",
    )


def counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[object]:
    """Record each call of ``owner.name`` (which still runs)."""
    calls: list[object] = []
    original: Callable[..., Any] = getattr(owner, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return calls


async def subscribed(rt: Runtime, count: int) -> None:
    async with asyncio.timeout(10):
        while rt.hub.subscriber_count < count:
            await asyncio.sleep(0.01)


async def start(ws: GraphQLSocket, token: str, query: str | None = None) -> None:
    assert (await ws.init(token))["type"] == "connection_ack"
    if query is None:
        await ws.subscribe("tab")
    else:
        kind = "subscribe" if ws.protocol == TRANSPORT_WS else "start"
        await ws.send({"id": "tab", "type": kind, "payload": {"query": query}})


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_tabs_of_one_user_share_each_events_execution_and_all_receive_it(
    server_url: str, rt: Runtime, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    session = await start_session(rt, user.id, LOCAL_CLIENT)
    executions = counting(monkeypatch, sharing.SharedEventExecutor, "execute_operation")
    key_reads = counting(monkeypatch, types, "_read_key")
    async with (
        open_socket(server_url, protocol) as a,
        open_socket(server_url, protocol) as b,
        open_socket(server_url, protocol) as c,
        open_socket(server_url, protocol) as short,
        open_socket(server_url, protocol) as monitor,
    ):
        for tab in (a, b, c):
            await start(tab, session)
        await start(short, session, SHORT)
        await start(monitor, await monitor_token())
        await subscribed(rt, 5)
        rt.hub.deliver(used(key, 41))
        events = [await ws.next_event() for ws in (a, b, c, monitor)]
        assert await short.next_event() == {"id": "41", "kind": "KEY_USED"}
    expected = {
        "id": "41",
        "kind": "KEY_USED",
        "occurredAt": events[0]["occurredAt"],
        "key": key.key,
        "code": "VALID",
        "clientIp": "203.0.113.7",
        "method": "GET",
        "path": "/api/v4/spot/orders",
        "apiKey": {"id": encode_global_id("ApiKey", key.id), "key": key.key},
    }
    assert events == [expected] * 4
    # Three tabs asking the same thing, one asking less, the monitor: three executions
    # for five sockets (one per principal and document), and the key read once.
    assert len(executions) == 3
    assert len(key_reads) == 1


async def test_a_tokens_sockets_share_one_credential_check_and_close_together(
    server_url: str, rt: Runtime
) -> None:
    user = await create_user()
    ending = await start_session(rt, user.id, LOCAL_CLIENT)
    lasting = await start_session(rt, user.id, LOCAL_CLIENT)
    async with (
        open_socket(server_url) as a,
        open_socket(server_url) as b,
        open_socket(server_url) as c,
        open_socket(server_url) as other,
    ):
        for ws, token in ((a, ending), (b, ending), (c, ending), (other, lasting)):
            assert (await ws.init(token))["type"] == "connection_ack"
        assert rt.sockets.count() == 4
        assert rt.sockets.watchdog_count == 2
        first = await Session.filter(user_id=user.id).order_by("id").first()
        assert first is not None
        await Session.filter(id=first.id).update(expires_at=rt.clock.now() - timedelta(seconds=1))
        assert [await ws.close_code() for ws in (a, b, c)] == [4401] * 3
        with pytest.raises(TimeoutError):
            await other.receive(timeout=0.6)
        assert rt.sockets.watchdog_count == 1
    await until(lambda: rt.sockets.watchdog_count == 0)


STATUS = "subscription { keyActivity { id apiKey { label status } } }"


async def test_a_verification_events_key_comes_from_the_key_cache_and_changes_show_at_once(
    server_url: str, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    session = await start_session(rt, user.id, LOCAL_CLIENT)
    assert await rt.key_cache.get(key.key) is not None  # the verification looked it up
    reads = counting(monkeypatch, types, "keys_by_ids")
    async with open_socket(server_url) as tab:
        await start(tab, session, STATUS)
        await subscribed(rt, 1)
        rt.hub.deliver(used(key, 1))
        first = await tab.next_event()
        assert reads == []  # a hundred events a second are not a hundred queries
        await delete_key(rt, user.id, key.id, LOCAL_CLIENT)
        rt.hub.deliver(used(key, 2))
        while (event := await tab.next_event())["id"] != "2":
            pass  # the KEY_DELETED event in between
    assert first == {"id": "1", "apiKey": {"label": key.label, "status": "ACTIVE"}}
    assert event == {"id": "2", "apiKey": {"label": key.label, "status": "DELETED"}}


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_socket_that_closes_mid_execution_does_not_cancel_it_for_the_others(
    server_url: str, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    session = await start_session(rt, user.id, LOCAL_CLIENT)
    release = asyncio.Event()
    reading = asyncio.Event()
    read_key: Callable[..., Awaitable[ApiKey | None]] = types._read_key

    async def slow_read(*args: Any) -> ApiKey | None:
        reading.set()
        await release.wait()
        return await read_key(*args)

    monkeypatch.setattr(types, "_read_key", slow_read)
    async with open_socket(server_url) as staying:
        await start(staying, session)
        async with open_socket(server_url) as leaving:
            await start(leaving, session)
            await subscribed(rt, 2)
            rt.hub.deliver(used(key, 7))
            await asyncio.wait_for(reading.wait(), 5)
        await until(lambda: rt.hub.subscriber_count == 1)
        release.set()
        event = await staying.next_event()
    assert (event["id"], event["apiKey"]["key"]) == ("7", key.key)
