"""WebSocket messages over ``max_ws_message_bytes`` close the connection (1009)."""

from __future__ import annotations

import json

import httpx
import pytest
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette


async def test_a_websocket_message_over_the_limit_closes_the_connection(
    app: Starlette,
) -> None:
    limit = app.state.rt.settings.max_ws_message_bytes
    async with (
        httpx.AsyncClient(
            transport=ASGIWebSocketTransport(app=app), base_url="http://testserver"
        ) as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws,  # type: ignore[var-annotated]
    ):
        await ws.send_text(json.dumps({"type": "connection_init", "payload": {"x": "y" * limit}}))
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_text(timeout=5)
        assert closed.value.code == 1009
