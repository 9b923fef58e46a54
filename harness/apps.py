"""An app of its own for one test: settings the shared fixtures do not have, its lifespan
running, its tables emptied, and an HTTP client on it (in process, as ``client``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from gql_keys.app import create_app, runtime_of
from gql_keys.clock import Clock
from gql_keys.runtime import Runtime
from gql_keys.settings import Settings
from harness.databases import truncate_all


@asynccontextmanager
async def serving(
    settings: Settings, clock: Clock | None = None
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        await truncate_all()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield runtime_of(app), client
