"""keyActivity over WebSocket: both protocols, authentication, privacy, logout."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from gql_keys.broker.events import ActivityEvent, ActivityKind, new_event_id
from gql_keys.global_ids import encode_global_id
from gql_keys.models import ApiKey
from gql_keys.runtime import Runtime
from gql_keys.services.sessions import start_session
from harness.accounts import LOCAL_CLIENT
from harness.graphql import gql
from harness.keys import (
    VERIFY,
    create_active_key,
    create_user,
    monitor_token,
    verifier_token,
    verify_input,
)
from tests.api.usage_support import entry, record
from tests.ws.support import LEGACY_WS, TRANSPORT_WS, open_socket

PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]


async def user_key_token(rt: Runtime) -> tuple[ApiKey, str, str]:
    user = await create_user()
    key, secret = await create_active_key(rt, user.id)
    return key, secret, await start_session(rt, user.id, LOCAL_CLIENT)


async def wait_for_subscribers(rt: Runtime, count: int) -> None:
    for _ in range(500):
        if rt.hub.subscriber_count >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {rt.hub.subscriber_count} subscribers")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_owner_receives_use_events_of_their_key(
    server_url: str, client: httpx.AsyncClient, rt: Runtime, protocol: str
) -> None:
    key, secret, token = await user_key_token(rt)
    async with open_socket(server_url, protocol) as ws:
        assert (await ws.init(token))["type"] == "connection_ack"
        await ws.subscribe("1")
        await wait_for_subscribers(rt, 1)
        gateway = await verifier_token()
        body = await gql(
            client,
            VERIFY,
            {"input": verify_input(key.key, secret, now=rt.clock.time())},
            token=gateway,
        )
        assert body["data"]["verifyApiRequest"]["allowed"] is True, body
        event = await ws.next_event()
    assert event["kind"] == "KEY_USED"
    assert event["code"] == "VALID"
    assert event["key"] == key.key
    assert event["apiKey"] == {"id": encode_global_id("ApiKey", key.id), "key": key.key}
    assert event["clientIp"] == "203.0.113.7"
    assert event["method"] == "GET"
    logs = await gql(client, "{ usageLogs { nodes { id } } }", token=token)
    (log_id,) = [n["id"] for n in logs["data"]["usageLogs"]["nodes"]]
    assert log_id == encode_global_id("UsageLog", event["id"])


async def test_users_never_see_other_users_events_and_monitor_sees_all(
    server_url: str, rt: Runtime
) -> None:
    alice_key, _, alice = await user_key_token(rt)
    bob_key, _, bob = await user_key_token(rt)
    async with (
        open_socket(server_url) as alice_ws,
        open_socket(server_url, LEGACY_WS) as bob_ws,
        open_socket(server_url) as monitor_ws,
    ):
        for ws, token in ((alice_ws, alice), (bob_ws, bob), (monitor_ws, await monitor_token())):
            assert (await ws.init(token))["type"] == "connection_ack"
            await ws.subscribe("a")
        await wait_for_subscribers(rt, 3)
        ids = await record(
            rt,
            entry(alice_key, datetime.now(UTC)),
            entry(None, datetime.now(UTC), allowed=False, code="KEY_NOT_FOUND"),
        )
        (bob_id,) = await record(
            rt, entry(bob_key, datetime.now(UTC), allowed=False, code="REPLAYED")
        )
        assert (await alice_ws.next_event())["id"] == str(ids[0])
        bob_event = await bob_ws.next_event()
        assert (bob_event["id"], bob_event["kind"]) == (str(bob_id), "KEY_DENIED")
        seen = [int((await monitor_ws.next_event())["id"]) for _ in range(3)]
        assert seen == sorted(seen) == sorted([*ids, bob_id])
        with pytest.raises(TimeoutError):
            await alice_ws.next_event(timeout=0.3)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_asking_for_another_users_key_is_an_error_on_that_subscription(
    server_url: str, rt: Runtime, protocol: str
) -> None:
    _, _, alice = await user_key_token(rt)
    bob_key, _, _ = await user_key_token(rt)
    async with open_socket(server_url, protocol) as ws:
        await ws.init(alice)
        await ws.subscribe("x", {"keyIds": [encode_global_id("ApiKey", bob_key.id)]})
        message = await ws.receive()
        assert message["id"] == "x"
        assert message["type"] in ("next", "data")
        assert message["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert message["payload"]["data"] is None
        assert (await ws.receive())["type"] == "complete"
        assert rt.hub.subscriber_count == 0


async def test_key_and_kind_filters_and_account_events_reach_the_owner(
    server_url: str, rt: Runtime
) -> None:
    key, _, token = await user_key_token(rt)
    other_key, _ = await create_active_key(rt, key.user_id)
    _, _, stranger = await user_key_token(rt)
    async with open_socket(server_url) as ws, open_socket(server_url) as stranger_ws:
        await ws.init(token)
        await stranger_ws.init(stranger)
        await ws.subscribe("keys", {"keyIds": [encode_global_id("ApiKey", key.id)]})
        await ws.subscribe("denied", {"kinds": ["KEY_DENIED", "TWO_FACTOR_FAILED"]})
        await stranger_ws.subscribe("all")
        await wait_for_subscribers(rt, 3)
        now = datetime.now(UTC)
        await record(rt, entry(other_key, now), entry(key, now))
        two_factor = ActivityEvent(
            id=new_event_id(1),
            kind=ActivityKind.TWO_FACTOR_FAILED,
            occurred_at=now,
            owner_id=key.user_id,
        )
        await rt.broker.publish([two_factor])
        received = [await ws.receive() for _ in range(2)]
        by_op = {m["id"]: m["payload"]["data"]["keyActivity"] for m in received}
        assert by_op["keys"]["key"] == key.key
        assert by_op["denied"]["kind"] == "TWO_FACTOR_FAILED"
        with pytest.raises(TimeoutError):
            await ws.receive(timeout=0.3)
        with pytest.raises(TimeoutError):
            await stranger_ws.receive(timeout=0.3)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_without_valid_token_is_closed_4401(
    server_url: str, rt: Runtime, protocol: str
) -> None:
    for token in (None, "gks_not-a-real-token"):
        async with open_socket(server_url, protocol) as ws:
            await ws.send({"type": "connection_init", "payload": {"authorization": token}})
            assert await ws.close_code() == 4401
    assert rt.sockets.count() == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_verifier_token_is_closed_4403(server_url: str, rt: Runtime, protocol: str) -> None:
    async with open_socket(server_url, protocol) as ws:
        token = await verifier_token()
        await ws.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        assert await ws.close_code() == 4403


async def test_subscribe_before_connection_init_is_closed_4401(server_url: str) -> None:
    async with open_socket(server_url) as ws:
        await ws.subscribe("1")
        assert await ws.close_code() == 4401


async def test_handshake_from_foreign_origin_is_refused(server_url: str, rt: Runtime) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with open_socket(server_url, origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    # Same-origin pages and clients without an Origin header may connect.
    host = server_url.removeprefix("ws://").split("/", 1)[0]
    async with open_socket(server_url, origin=f"http://{host}") as ws:
        assert (await ws.init(await monitor_token()))["type"] == "connection_ack"


async def test_logout_closes_that_sessions_sockets_only(
    server_url: str, client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    leaving = await start_session(rt, user.id, LOCAL_CLIENT)
    staying = await start_session(rt, user.id, LOCAL_CLIENT)
    async with (
        open_socket(server_url) as a,
        open_socket(server_url, LEGACY_WS) as b,
        open_socket(server_url) as c,
    ):
        await a.init(leaving)
        await b.init(leaving)
        await c.init(staying)
        body = await gql(client, "mutation { logout { userErrors { code } } }", token=leaving)
        assert body["data"]["logout"]["userErrors"] == []
        assert await a.close_code() == 4401
        assert await b.close_code() == 4401
        await c.subscribe("still-open")
        await wait_for_subscribers(rt, 1)
