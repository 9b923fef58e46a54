"""A tiny GraphQL-over-WebSocket client for both sub-protocols."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"

ACTIVITY = """
subscription ($keyIds: [ID!], $kinds: [KeyActivityKind!]) {
  keyActivity(keyIds: $keyIds, kinds: $kinds) {
    id kind occurredAt key code clientIp method path apiKey { id key }
  }
}
"""


class GraphQLSocket:
    def __init__(self, ws: ClientConnection, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol

    async def init(self, token: str | None) -> dict[str, Any]:
        payload = {"authorization": f"Bearer {token}"} if token is not None else {}
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
            message: dict[str, Any] = json.loads(raw)
            if message["type"] in ("ka", "ping", "pong"):
                continue
            return message

    async def subscribe(
        self, op_id: str, variables: dict[str, Any] | None = None, query: str = ACTIVITY
    ) -> None:
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        payload = {"query": query, "variables": variables or {}}
        await self.send({"id": op_id, "type": kind, "payload": payload})

    async def next_event(self, timeout: float = 5.0) -> dict[str, Any]:
        message = await self.receive(timeout)
        assert message["type"] in ("next", "data"), message
        assert "errors" not in message["payload"], message
        event: dict[str, Any] = message["payload"]["data"]["keyActivity"]
        return event

    async def close_code(self, timeout: float = 5.0) -> int | None:
        """Wait for the server to close; its close code."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), timeout)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None


@asynccontextmanager
async def open_socket(
    url: str, protocol: str = TRANSPORT_WS, origin: str | None = None
) -> AsyncIterator[GraphQLSocket]:
    headers = {"Origin": origin} if origin is not None else None
    async with connect(
        url,
        subprotocols=[protocol],  # type: ignore[list-item]
        additional_headers=headers,
        ping_interval=None,
    ) as ws:
        yield GraphQLSocket(ws, protocol)
