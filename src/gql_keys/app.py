"""``create_app()``: the Starlette application with its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from tortoise.contrib.starlette import RegisterTortoise

from gql_keys.clock import Clock
from gql_keys.db import ensure_data_dir, tortoise_config
from gql_keys.graphql.schema import build_schema
from gql_keys.graphql.view import GraphQLView
from gql_keys.http.health import healthz, readyz
from gql_keys.runtime import Runtime, build_runtime
from gql_keys.settings import Settings, load_settings


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Starlette:
    """Build the ASGI app; nothing touches the database until the lifespan starts."""
    settings = settings or load_settings()
    ensure_data_dir(settings)
    rt = build_runtime(settings, clock)
    graphql = GraphQLView(rt, build_schema())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=tortoise_config(settings)):
            await rt.start()
            try:
                yield
            finally:
                await rt.close()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.rt = rt
    return app


def runtime_of(app: Starlette) -> Runtime:
    rt: Runtime = app.state.rt
    return rt
