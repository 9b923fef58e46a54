"""A session revoked through one worker dies at once on the other: token and WebSocket."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager

import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws

from harness.accounts import login_token, signed_up_user, totp_code
from harness.graphql import error_codes, gql
from tests.api.security_support import REVOKE_SESSION, SESSIONS
from tests.scaleout.cluster import Cluster, real_clock

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


async def drain(ws: AsyncWebSocketSession) -> None:
    """Read messages until the server closes the socket (well before the 30 s re-check)."""
    async with asyncio.timeout(10):
        while True:
            await ws.receive_json()


async def test_a_session_revoked_on_one_worker_loses_its_socket_on_the_other(
    cluster: Cluster,
) -> None:
    a, b = cluster.servers
    rt = real_clock()
    async with a.client() as client_a, b.client() as client_b:
        user = await signed_up_user(client_a, rt)
        assert user.seed is not None
        doomed = await login_token(client_b, user.email, user.password, totp_code(user.seed, rt))
        sessions = (await gql(client_b, SESSIONS, token=doomed))["data"]["sessions"]
        target = next(s["id"] for s in sessions if s["current"])

        url = f"{b.url}/graphql"
        socket: AbstractAsyncContextManager[AsyncWebSocketSession] = aconnect_ws(
            url, client_b, subprotocols=["graphql-transport-ws"]
        )
        async with socket as ws:
            init = {"type": "connection_init", "payload": {"authorization": f"Bearer {doomed}"}}
            await ws.send_json(init)
            assert (await ws.receive_json())["type"] == "connection_ack"

            body = await gql(client_a, REVOKE_SESSION, {"input": {"id": target}}, token=user.token)
            assert body["data"]["revokeSession"]["userErrors"] == [], body
            with pytest.raises(WebSocketDisconnect) as closed:
                await drain(ws)
            assert closed.value.code == 4401
        assert error_codes(await gql(client_b, SESSIONS, token=doomed)) == ["UNAUTHENTICATED"]
        assert "errors" not in await gql(client_b, SESSIONS, token=user.token)
