"""Fixtures for abuse tests: apps with changed settings, and captured JSON logs."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from gql_keys.app import create_app, runtime_of
from gql_keys.app_logging import JsonFormatter, RedactingFilter
from gql_keys.clock import Clock
from gql_keys.runtime import Runtime
from gql_keys.settings import Settings
from harness.databases import truncate_all

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@dataclass(frozen=True, slots=True)
class RunningServer:
    url: str
    rt: Runtime


ServerFactory = Callable[..., AbstractAsyncContextManager[RunningServer]]


@pytest.fixture
def make_client(settings: Settings, clock: Clock) -> ClientFactory:
    """``async with make_client(env="production") as client``: an app with overrides."""

    @asynccontextmanager
    async def factory(**overrides: object) -> AsyncIterator[httpx.AsyncClient]:
        application = create_app(settings.with_overrides(**overrides), clock)
        async with application.router.lifespan_context(application):
            await truncate_all()
            transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield c

    return factory


AppFactory = Callable[..., AbstractAsyncContextManager[tuple[Starlette, httpx.AsyncClient]]]


@pytest.fixture
def make_app(settings: Settings, clock: Clock) -> AppFactory:
    """``async with make_app(**overrides) as (app, client)``: like ``make_client``, with
    the app (for its runtime)."""

    @asynccontextmanager
    async def factory(**overrides: object) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
        application = create_app(settings.with_overrides(**overrides), clock)
        async with application.router.lifespan_context(application):
            await truncate_all()
            transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield application, c

    return factory


class LogCapture:
    """Everything logged while active, as the JSON lines a deployment would see."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setLevel(logging.DEBUG)
        self.handler.setFormatter(JsonFormatter())
        self.handler.addFilter(RedactingFilter())

    @property
    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def captured_logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture.handler)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture.handler)
        root.setLevel(previous)


@pytest.fixture
def make_server(settings: Settings, clock: Clock) -> ServerFactory:
    """``async with make_server(ws_init_timeout_seconds=0.5) as server``: a real uvicorn
    server in this process running an app with overrides (``server.url`` is its
    WebSocket, ``server.rt`` its runtime)."""

    @asynccontextmanager
    async def factory(**overrides: object) -> AsyncIterator[RunningServer]:
        application = create_app(settings.with_overrides(**overrides), clock)
        async with application.router.lifespan_context(application):
            await truncate_all()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            config = uvicorn.Config(
                application,
                lifespan="off",
                log_level="warning",
                ws="websockets-sansio",
                ws_ping_interval=None,
            )
            server = uvicorn.Server(config)
            task = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started:
                await asyncio.sleep(0.01)
            try:
                yield RunningServer(f"ws://127.0.0.1:{port}/graphql", runtime_of(application))
            finally:
                server.should_exit = True
                await task
                sock.close()

    return factory
