"""``gql-keys serve``: run the server with uvicorn, in one or several worker processes.

Start-up: pending migrations run once, here in the parent, before any worker starts (on
the embedded SQLite default always, elsewhere with ``--migrate``). Shutdown on SIGTERM or
SIGINT: uvicorn stops accepting, lets in-flight requests finish (up to 30 s), closes
WebSockets with 1001 (going away), then runs the lifespan shutdown, which flushes the
queued usage-log rows before the process exits.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from gql_keys.cli.database import migrate_database
from gql_keys.logs import configure_logging
from gql_keys.scope_rules import scope_rules_from
from gql_keys.security.masterkey import load_master_keys
from gql_keys.settings import load_settings

GRACEFUL_SHUTDOWN_SECONDS = 30
GOING_AWAY = 1001


class GoingAwayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, but a server shutdown closes with 1001, not 1012.

    1001 tells clients the server is going away (not restarting in place), so they
    reconnect, through the load balancer, to a worker that is still serving.
    """

    def shutdown(self) -> None:
        if self.close_sent or not self.handshake_complete:
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": GOING_AWAY})
        self.conn.send_close(GOING_AWAY, "server shutting down")
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve the GraphQL API",
        description=(
            "Serve /graphql, /healthz, /readyz and /metrics. On the embedded SQLite "
            "default the database is migrated first, so a first run needs nothing else. "
            "Several workers share rate limits, replay detection, key invalidation and "
            "activity events through Redis (GQL_KEYS_REDIS_URL)."
        ),
    )
    parser.add_argument("--host", help="address to bind (GQL_KEYS_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (GQL_KEYS_PORT, default 8000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port (default 1; more than 1 needs GQL_KEYS_REDIS_URL)",
    )
    parser.add_argument(
        "--migrate",
        action="store_true",
        help="apply pending migrations once before the workers start (always done on the "
        "embedded SQLite default)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings)
    if args.workers < 1:
        raise SystemExit("gql-keys: --workers must be at least 1")
    if args.workers > 1 and not settings.redis_url:
        raise SystemExit(
            "gql-keys: --workers above 1 needs GQL_KEYS_REDIS_URL: without Redis every worker "
            "would keep its own rate limits, replay cache and activity stream"
        )
    load_master_keys(settings)  # a bad GQL_KEYS_MASTER_KEY stops here, not in each worker
    scope_rules_from(settings.scope_rules)  # a bad rules file stops here, before any worker
    if args.migrate or (settings.is_sqlite and not settings.database_url):
        migrate_database(settings)  # once, in the parent, never once per worker
    uvicorn.run(
        "gql_keys.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        ws=GoingAwayWebSocketProtocol,
        # The frame limit holds at the protocol layer: a bigger frame closes the socket
        # (1009) before it is buffered, let alone handed to the app (uvicorn: 16 MiB).
        ws_max_size=settings.max_ws_message_bytes,
        # The client address comes from the socket; gql-keys reads X-Forwarded-For
        # itself, and only from GQL_KEYS_TRUSTED_PROXIES.
        proxy_headers=False,
        forwarded_allow_ips="",
        server_header=False,
        log_level=settings.log_level.lower(),
        # gql_keys.logs configures logging (JSON, redacted) in each worker's create_app;
        # uvicorn's loggers propagate to it.
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0
