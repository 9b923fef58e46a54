"""``create_app()``: the Starlette application with its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from tortoise.contrib.starlette import RegisterTortoise

from gql_keys.app_logging import configure_logging
from gql_keys.clock import Clock
from gql_keys.db import ensure_data_dir, tortoise_config
from gql_keys.graphql.schema import build_schema
from gql_keys.graphql.view import GraphQLView
from gql_keys.http.authz import PREFIX as AUTHZ_PREFIX
from gql_keys.http.authz import ForwardAuth
from gql_keys.http.dashboard import dashboard_routes
from gql_keys.http.graphiql import graphiql_routes
from gql_keys.http.health import healthz, readyz
from gql_keys.http.metrics import metrics_endpoint
from gql_keys.http.metrics_access import monitor_only_in_production
from gql_keys.http.middleware import (
    BodySizeLimitMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from gql_keys.http.secret_scanning import PATH as SECRET_SCANNING_PATH
from gql_keys.http.secret_scanning import github_alert
from gql_keys.http.unavailable import unavailable_handlers
from gql_keys.runtime import Runtime, build_runtime
from gql_keys.services import (
    cooling_off,
    expiry_notices,
    notification_worker,
    secret_lookups,
    servers,
    usage_partitions,
)
from gql_keys.settings import Settings, load_settings


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Starlette:
    """Build the ASGI app; nothing touches the database until the lifespan starts."""
    settings = settings or load_settings()
    configure_logging(settings)
    ensure_data_dir(settings)
    rt = build_runtime(settings, clock)
    graphql = GraphQLView(rt, build_schema(settings))
    authz = ForwardAuth(rt)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=tortoise_config(settings)):
            # Before serving: a leaked secret of a key stored before lookups existed is found.
            filling = await secret_lookups.fill_at_start(rt)
            await rt.start()
            heartbeat = servers.Heartbeat()
            await heartbeat.start()
            sweeps = [
                asyncio.create_task(expiry_notices.run(rt), name="expiry-notices"),
                asyncio.create_task(cooling_off.run(rt), name="cooling-off"),
                asyncio.create_task(usage_partitions.run(rt), name="usage-partitions"),
                *([filling] if filling is not None else []),
            ]
            delivery = notification_worker.start(rt)
            try:
                yield
            finally:
                await notification_worker.stop(delivery)
                for sweep in sweeps:
                    sweep.cancel()
                for sweep in sweeps:
                    with contextlib.suppress(asyncio.CancelledError):
                        await sweep
                await heartbeat.stop()
                await rt.close()

    app = GqlKeysApp(
        authz,
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            # An ASGI app, not a function: every method reaches it.
            Route("/authz", authz),
            Route("/authz/{path:path}", authz),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", monitor_only_in_production(metrics_endpoint), methods=["GET"]),
            Route(SECRET_SCANNING_PATH, github_alert, methods=["POST"]),
            *(dashboard_routes() if settings.dashboard else ()),
            *(() if settings.production else graphiql_routes()),
        ],
        middleware=middleware(settings),
        lifespan=lifespan,
        exception_handlers=unavailable_handlers(),
    )
    app.state.rt = rt
    return app


class GqlKeysApp(Starlette):
    """Starlette, with ``/authz`` dispatched before the middleware stack and routing.

    ``/authz`` is the gateways' hot path: its endpoint keeps the body limit, request id
    and security header of the middleware itself (see :mod:`gql_keys.http.authz`), and
    answers 503 in Gate's format where the stack would answer with GraphQL's. The routes
    stay registered, so the app lists them like any other.
    """

    def __init__(self, authz: ForwardAuth, **options: Any) -> None:
        super().__init__(**options)
        self.authz = authz

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(AUTHZ_PREFIX) and (
                len(path) == len(AUTHZ_PREFIX) or path[len(AUTHZ_PREFIX)] == "/"
            ):
                await self.authz(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: request id, security headers, CORS (only when origins are
    configured), then the body size limit, which answers 413 before any parsing."""
    stack = [Middleware(RequestIdMiddleware), Middleware(SecurityHeadersMiddleware)]
    if settings.allowed_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.allowed_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "KEY", "Timestamp", "SIGN"],
                expose_headers=["X-Request-Id"],
                max_age=600,
            )
        )
    stack.append(Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes))
    return stack


def runtime_of(app: Starlette) -> Runtime:
    rt: Runtime = app.state.rt
    return rt
