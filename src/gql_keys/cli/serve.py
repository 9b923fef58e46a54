"""``gql-keys serve``: run the server with uvicorn."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import uvicorn

from gql_keys.db import migrate
from gql_keys.settings import load_settings


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve the GraphQL API",
        description=(
            "Serve /graphql, /healthz, /readyz and /metrics. On the embedded SQLite "
            "default the database is migrated first, so a first run needs nothing else."
        ),
    )
    parser.add_argument("--host", help="address to bind (GQL_KEYS_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (GQL_KEYS_PORT, default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.workers < 1:
        raise SystemExit("gql-keys: --workers must be at least 1")
    if settings.is_sqlite and not settings.database_url:
        asyncio.run(migrate(settings))
    uvicorn.run(
        "gql_keys.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        # The client address comes from the socket; gql-keys reads X-Forwarded-For
        # itself, and only from GQL_KEYS_TRUSTED_PROXIES.
        proxy_headers=False,
        forwarded_allow_ips="",
        server_header=False,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=30,
    )
    return 0
