"""Caps and back-pressure: connections per principal, subscriptions, slow consumers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from websockets.exceptions import InvalidStatus

from gql_keys.broker.events import ActivityEvent, ActivityKind
from gql_keys.runtime import Runtime
from gql_keys.services.sessions import start_session
from gql_keys.settings import Settings
from harness.accounts import LOCAL_CLIENT
from harness.keys import create_active_key, create_user, monitor_token
from tests.ws.support import open_socket


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(
        ws_max_connections_per_principal=2,
        ws_subscriber_queue_size=5,
        ws_max_subscriptions_per_connection=2,
        allowed_origins=("https://dash.example",),
    )


def used(pk: int, owner: int, n: int) -> ActivityEvent:
    return ActivityEvent(
        id=str(n),
        kind=ActivityKind.KEY_USED,
        occurred_at=datetime.now(UTC),
        owner_id=owner,
        api_key_id=pk,
        key=f"k{pk}",
        code="VALID",
    )


async def wait_for_subscribers(rt: Runtime, count: int) -> None:
    for _ in range(500):
        if rt.hub.subscriber_count >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {rt.hub.subscriber_count} subscribers")


async def test_a_principal_may_hold_only_so_many_connections(server_url: str, rt: Runtime) -> None:
    token = await monitor_token()
    async with open_socket(server_url) as a, open_socket(server_url) as b:
        assert (await a.init(token))["type"] == "connection_ack"
        assert (await b.init(token))["type"] == "connection_ack"
        async with open_socket(server_url) as c:
            await c.send(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            )
            assert await c.close_code() == 4429
    # Closed sockets free their slot (a busy machine may take a while to notice the close).
    async with asyncio.timeout(10):
        while rt.sockets.count() != 0:
            await asyncio.sleep(0.01)
    async with open_socket(server_url) as d:
        assert (await d.init(token))["type"] == "connection_ack"


async def test_subscriptions_per_connection_are_capped(server_url: str, rt: Runtime) -> None:
    async with open_socket(server_url) as ws:
        await ws.init(await monitor_token())
        await ws.subscribe("1")
        await ws.subscribe("2")
        await ws.subscribe("3")
        message = await ws.receive()
        assert message["id"] == "3"
        assert message["type"] == "error"
        assert rt.hub.subscriber_count <= 2


async def test_slow_consumer_is_closed_without_holding_back_others(
    server_url: str, rt: Runtime
) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    quiet_key, _ = await create_active_key(rt, user.id)
    token = await start_session(rt, user.id, LOCAL_CLIENT)
    async with open_socket(server_url) as slow, open_socket(server_url) as steady:
        await slow.init(token)
        await steady.init(token)
        await slow.subscribe("all")
        await steady.subscribe("quiet", {"keyIds": [_gid(quiet_key.id)]})
        await wait_for_subscribers(rt, 2)
        # A burst larger than the queue arrives before the slow subscriber can run.
        for n in range(20):
            rt.hub.deliver(used(key.id, user.id, n))
        rt.hub.deliver(used(quiet_key.id, user.id, 100))
        assert await slow.close_code() == 4008
        assert (await steady.next_event())["id"] == "100"
        assert rt.hub.dropped_subscribers == 1
        rt.hub.deliver(used(quiet_key.id, user.id, 101))
        assert (await steady.next_event())["id"] == "101"


def _gid(pk: int) -> str:
    from gql_keys.global_ids import encode_global_id

    return encode_global_id("ApiKey", pk)


async def test_listed_origin_may_connect_and_others_may_not(server_url: str) -> None:
    async with open_socket(server_url, origin="https://dash.example") as ws:
        assert (await ws.init(await monitor_token()))["type"] == "connection_ack"
    with pytest.raises(InvalidStatus) as refused:
        async with open_socket(server_url, origin="https://dash.example.evil.test"):
            pass
    assert refused.value.response.status_code == 403
