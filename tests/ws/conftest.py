"""A real uvicorn server in this process, serving the test app, for WebSocket tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette

from gql_keys.cli.serve import server_options
from gql_keys.settings import Settings


@pytest.fixture
async def server_url(app: Starlette, settings: Settings) -> AsyncIterator[str]:
    """``ws://127.0.0.1:<port>/graphql`` of a server running ``app`` (lifespan already on)
    with the options ``gql-keys serve`` uses."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options = {**server_options(settings), "log_level": "warning", "ws_ping_interval": None}
    config = uvicorn.Config(app, lifespan="off", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"ws://127.0.0.1:{port}/graphql"
    server.should_exit = True
    await task
    sock.close()
