"""permessage-deflate only when the deployment asks for it (GQL_KEYS_WS_COMPRESSION)."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect

from gql_keys.settings import Settings
from harness.keys import monitor_token


@pytest.fixture(params=[False, True], ids=["default", "compression"])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return settings.with_overrides(ws_compression=request.param)


async def test_sockets_are_compressed_only_when_configured(
    server_url: str, settings: Settings
) -> None:
    # Offered like a browser offers it; the server decides.
    async with connect(server_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            '{"type":"connection_init","payload":{"authorization":"Bearer %s"}}'
            % await monitor_token()
        )
        assert '"connection_ack"' in str(await ws.recv())
        assert ws.response is not None
        negotiated = ws.response.headers.get("Sec-WebSocket-Extensions", "")
    assert ("permessage-deflate" in negotiated) is settings.ws_compression
