"""Fixtures for abuse tests: apps with changed settings, and captured JSON logs."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from gql_keys.app import create_app
from gql_keys.clock import Clock
from gql_keys.logs import JsonFormatter, RedactingFilter
from gql_keys.settings import Settings
from tests.support.databases import truncate_all

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


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
