"""Legacy ``graphql-ws`` sockets: no init timeout, and repeated ``connection_init``.

An anonymous legacy socket stayed open 25 s and longer (``graphql-transport-ws``
closes at the init timeout), and every further ``connection_init`` was acked, switched
the principal and started another credential watchdog: 200 inits left 199 tasks
re-checking tokens every 30 s after the socket closed. Now the legacy protocol has the
same timeout (4408), a second ``connection_init`` closes the socket (4429), and each
socket has exactly one watchdog, cancelled when it closes.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.exceptions import ConnectionClosed

from gql_keys.services.sessions import start_session
from harness.accounts import LOCAL_CLIENT
from harness.keys import create_user
from tests.security.conftest import ServerFactory
from tests.ws.support import LEGACY_WS, TRANSPORT_WS, open_socket


def watchdogs() -> list[asyncio.Task[object]]:
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and "_watch_credentials" in repr(task.get_coro())
    ]


async def no_watchdog_left() -> list[asyncio.Task[object]]:
    """The watchdogs still running once they have had 10 s to finish."""
    deadline = time.monotonic() + 10
    while watchdogs() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return watchdogs()


@pytest.mark.parametrize("protocol", [LEGACY_WS, TRANSPORT_WS])
async def test_a_silent_socket_is_closed_at_the_init_timeout(
    make_server: ServerFactory, protocol: str
) -> None:
    async with (
        make_server(ws_init_timeout_seconds=0.5) as server,
        open_socket(server.url, protocol) as ws,
    ):
        assert await ws.close_code(timeout=5.0) == 4408


async def test_two_hundred_connection_inits_leave_no_watchdog_behind(
    make_server: ServerFactory,
) -> None:
    async with make_server() as server:
        token = await start_session(server.rt, (await create_user()).id, LOCAL_CLIENT)
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        async with open_socket(server.url, LEGACY_WS) as ws:
            assert (await ws.init(token))["type"] == "connection_ack"
            assert len(watchdogs()) == 1
            acks = 0
            try:
                for _ in range(199):
                    await ws.send(init)
                while True:
                    if (await ws.receive(timeout=10.0))["type"] == "connection_ack":
                        acks += 1
            except (ConnectionClosed, TimeoutError) as ended:
                closed = ended
            assert acks == 0
            assert isinstance(closed, ConnectionClosed)
            assert closed.rcvd is not None
            assert closed.rcvd.code == 4429
        assert await no_watchdog_left() == []


@pytest.mark.parametrize("protocol", [LEGACY_WS, TRANSPORT_WS])
async def test_closing_a_socket_cancels_its_one_watchdog(
    make_server: ServerFactory, protocol: str
) -> None:
    async with make_server() as server:
        token = await start_session(server.rt, (await create_user()).id, LOCAL_CLIENT)
        async with open_socket(server.url, protocol) as ws:
            assert (await ws.init(token))["type"] == "connection_ack"
            assert len(watchdogs()) == 1
        assert await no_watchdog_left() == []
