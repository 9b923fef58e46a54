"""An open WebSocket keeping a session alive: every socket re-check used to refresh the
session's idle timer, so the dashboard's always-open socket kept an unattended tab signed
in until the 12-hour absolute limit. Re-checks now only read the session: one with no
HTTP request for ``GQL_KEYS_SESSION_IDLE_SECONDS`` is over, and its sockets close with
4401 at their next check."""

from __future__ import annotations

import httpx
import pytest

from gql_keys.clock import Clock
from gql_keys.services.sessions import start_session
from harness.accounts import LOCAL_CLIENT
from harness.graphql import gql
from harness.keys import create_user
from tests.security.conftest import ServerFactory
from tests.ws.support import open_socket

RECHECK = 0.2


async def test_an_open_socket_does_not_keep_an_idle_session_alive(
    make_server: ServerFactory, clock: Clock
) -> None:
    async with make_server(ws_reauth_seconds=RECHECK) as server:
        rt = server.rt
        user = await create_user()
        unattended = await start_session(rt, user.id, LOCAL_CLIENT)
        attended = await start_session(rt, user.id, LOCAL_CLIENT)
        http_url = server.url.replace("ws://", "http://").removesuffix("/graphql")
        idle = rt.settings.session_idle_seconds
        async with (
            open_socket(server.url) as left,
            open_socket(server.url) as used,
            httpx.AsyncClient(base_url=http_url) as http,
        ):
            assert (await left.init(unattended))["type"] == "connection_ack"
            assert (await used.init(attended))["type"] == "connection_ack"
            clock.advance(idle - 60)  # several re-checks, each long after the last touch
            with pytest.raises(TimeoutError):
                await left.receive(timeout=5 * RECHECK)
            # Someone uses the second tab: an HTTP request refreshes its session.
            body = await gql(http, "{ viewer { id } }", {}, token=attended)
            assert body["data"]["viewer"] is not None
            clock.advance(61)  # the first session is now idle since its last HTTP request
            assert await left.close_code(timeout=5) == 4401
            with pytest.raises(TimeoutError):
                await used.receive(timeout=5 * RECHECK)
            body = await gql(http, "{ viewer { id } }", {}, token=unattended)
            assert body["data"]["viewer"] is None
