"""``gql-keys serve``: run the server with uvicorn, in one or several worker processes.

Start-up: pending migrations run once, here in the parent, before any worker starts (on
the embedded SQLite default always, elsewhere with ``--migrate``). With several workers
the parent gives them a fresh folder for their metrics (``PROMETHEUS_MULTIPROC_DIR``),
so ``/metrics`` reports the sum over all of them, and removes it when serving ends.
Shutdown on SIGTERM or SIGINT: uvicorn stops accepting, lets in-flight requests finish
(up to 30 s), closes WebSockets with 1012 (service restart: clients reconnect), then
runs the lifespan shutdown, which flushes the queued usage-log rows before exiting.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import uvicorn

from gql_keys.app_logging import configure_logging
from gql_keys.cli.database import migrate_database
from gql_keys.metrics import MULTIPROCESS_DIR_VARIABLE
from gql_keys.scope_rules import scope_rules_from
from gql_keys.security.masterkey import load_master_keys
from gql_keys.settings import Settings, load_settings

log = logging.getLogger("gql_keys.serve")

GRACEFUL_SHUTDOWN_SECONDS = 30
# Requests that wait for their group commit keep dozens of coroutine stacks alive at
# once; at the default threshold (700 allocations) every young collection walks them
# again. Collect young objects 14x less often.
GC_THRESHOLDS = (10_000, 10, 10)
# The usage-log writer thread needs the GIL back after each SQLite call; against a busy
# event loop that waits up to the switch interval (5 ms by default) every time, which
# stretches each group commit, and every request waits for its commit. bench.authz,
# /authz against the floor: 0.38x at 5 ms, 0.43x at 1 ms, 0.49x at 0.2 ms, 0.50x at 0.1 ms.
SWITCH_INTERVAL = 0.0001  # seconds


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
    if settings.master_key or settings.production:
        load_master_keys(settings)  # a bad or missing key stops here, before any output
    scope_rules_from(settings.scope_rules)  # a bad rules file stops here, before any worker
    if args.migrate or (settings.is_sqlite and not settings.database_url):
        migrate_database(settings)  # once, in the parent, never once per worker
    host, port = args.host or settings.host, args.port or settings.port
    announce(settings, host, port)
    if not (settings.master_key or settings.production):
        load_master_keys(settings)  # generated on a first run (with a warning), not per worker
    with shared_metrics_folder(args.workers):
        uvicorn.run(
            "gql_keys.cli.serve:serving_app",
            factory=True,
            host=host,
            port=port,
            workers=args.workers,
            **server_options(settings),
        )
    return 0


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves each worker (for ``gql-keys serve`` and the benchmarks alike)."""
    return {
        "ws": "websockets-sansio",
        # The frame limit holds at the protocol layer: a bigger frame closes the socket
        # (1009) before it is buffered, let alone handed to the app (uvicorn: 16 MiB).
        "ws_max_size": settings.max_ws_message_bytes,
        # permessage-deflate keeps a zlib compressor and decompressor per socket.
        "ws_per_message_deflate": settings.ws_compression,
        # The client address comes from the socket; gql-keys reads X-Forwarded-For
        # itself, and only from GQL_KEYS_TRUSTED_PROXIES.
        "proxy_headers": False,
        "forwarded_allow_ips": "",
        "server_header": False,
        "log_level": settings.log_level.lower(),
        # uvicorn builds each access line's arguments before its logger drops them: off
        # unless the level shows them.
        "access_log": logging.getLevelName(settings.log_level) <= logging.INFO,
        # gql_keys.app_logging configures logging (format, redaction) in each worker's
        # create_app; uvicorn's loggers propagate to it.
        "log_config": None,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }


def announce(settings: Settings, host: str, port: int) -> None:
    """Where to go next, before uvicorn's own start-up lines."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else shown}:{port}"  # noqa: S104
    if settings.dashboard:
        log.info("dashboard: %s/", base)
    if settings.production:
        log.info("GraphQL API: %s/graphql (GraphiQL is off in production)", base)
    else:
        log.info("GraphiQL: %s/graphql", base)
    if settings.is_sqlite and not settings.database_url:
        log.info("data folder: %s", settings.data_dir)
    else:
        log.info("data folder: %s (database elsewhere)", settings.data_dir)


@contextlib.contextmanager
def shared_metrics_folder(workers: int) -> Iterator[None]:
    """With several workers, a fresh folder where each one writes its metric values."""
    if workers == 1:
        yield
        return
    folder = tempfile.mkdtemp(prefix="gql-keys-metrics-")
    os.environ[MULTIPROCESS_DIR_VARIABLE] = folder  # inherited by every worker
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_DIR_VARIABLE, None)
        shutil.rmtree(folder, ignore_errors=True)


def serving_app() -> object:
    """What each worker serves: ``create_app()``, in a process tuned for serving.

    The tuning is process-wide, so it lives here and not in ``create_app`` (tests build
    many apps in one process). It is never undone: the process ends with the server.
    """
    from gql_keys.app import create_app

    app = create_app()
    # Everything built so far (schema, runtime, modules) lives as long as the process:
    # move it out of the collector's generations so collections triggered by request
    # garbage do not keep re-scanning it.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL)
    return app
