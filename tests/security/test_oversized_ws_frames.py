"""WebSocket frames up to 16 MiB (uvicorn's default) were read before authentication:
the configured ``max_ws_message_bytes`` only held in the app, after the whole frame was
in memory. ``gql-keys serve`` now passes it to uvicorn (``ws_max_size``), so the
protocol layer closes the connection (1009) without handing the frame to the app."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.scaleout.cluster import BIN, free_port

APP_REASON = "Message too big"  # what the app says when it has read the whole frame


async def test_an_oversized_frame_is_refused_by_the_protocol_layer(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
    env.update(GQL_KEYS_DATA_DIR=str(tmp_path), GQL_KEYS_MAX_WS_MESSAGE_BYTES="4096")
    process = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        async with connect(
            f"ws://127.0.0.1:{port}/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            max_size=None,
        ) as ws:
            await ws.send("x" * 100_000)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
        assert closed.value.rcvd.reason != APP_REASON
    finally:
        process.terminate()
        process.wait(timeout=30)
