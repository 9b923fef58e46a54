"""``create_app()``: the Starlette application with its lifespan."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute
from tortoise.contrib.starlette import RegisterTortoise

from gql_keys.clock import Clock
from gql_keys.db import ensure_data_dir, tortoise_config
from gql_keys.graphql.schema import build_schema
from gql_keys.graphql.view import GraphQLView
from gql_keys.http.authz import ForwardAuth
from gql_keys.http.dashboard import dashboard_routes
from gql_keys.http.health import healthz, readyz
from gql_keys.http.metrics_access import monitor_only_in_production
from gql_keys.http.middleware import (
    BodySizeLimitMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from gql_keys.http.unavailable import unavailable_handlers
from gql_keys.logs import configure_logging
from gql_keys.metrics import metrics_endpoint
from gql_keys.runtime import Runtime, build_runtime
from gql_keys.settings import Settings, load_settings

SWITCH_INTERVAL = 0.001  # seconds; see the lifespan
GC_THRESHOLDS = (10_000, 10, 10)  # see the lifespan


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
            await rt.start()
            # Everything built so far (schema, runtime, modules) lives as long as the
            # process: move it out of the collector's generations so collections
            # triggered by request garbage do not keep re-scanning it.
            gc.collect()
            gc.freeze()
            # Requests that wait for their group commit keep dozens of coroutine stacks
            # alive at once; at the default threshold (700 allocations) every young
            # collection walks them again. Collect young objects 14x less often.
            thresholds = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLDS)
            # The usage-log writer thread needs the GIL back after each SQLite call;
            # against a busy event loop that waits up to the switch interval (5 ms by
            # default) every time, which stretches each group commit.
            switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL)
            try:
                yield
            finally:
                sys.setswitchinterval(switch_interval)
                gc.set_threshold(*thresholds)
                gc.unfreeze()  # an app built again in this process (tests) frees this one
                await rt.close()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            # An ASGI app, not a function: every method reaches it.
            Route("/authz", authz),
            Route("/authz/{path:path}", authz),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", monitor_only_in_production(metrics_endpoint), methods=["GET"]),
            *(dashboard_routes() if settings.dashboard else ()),
        ],
        middleware=middleware(settings),
        lifespan=lifespan,
        exception_handlers=unavailable_handlers(),
    )
    app.state.rt = rt
    return app


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
