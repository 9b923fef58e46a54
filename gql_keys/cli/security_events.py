"""``gql-keys security-events prune``: delete security-log rows past their retention."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from gql_keys.cli.database import run_with_database
from gql_keys.cli.prune import Progress
from gql_keys.services.security_events import prune_events
from gql_keys.settings import load_settings


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "security-events",
        help="maintain the account security log",
        description="Maintain the account security log (kept apart from usage logs).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    prune = actions.add_parser(
        "prune",
        help="delete security events older than the retention, in batches",
        description="Delete security events older than GQL_KEYS_SECURITY_EVENT_RETENTION_DAYS "
        "(default 400), in batches. Shows a progress bar on a terminal.",
    )
    prune.add_argument(
        "--batch-size", type=int, default=5000, help="rows deleted per statement (default 5000)"
    )
    prune.set_defaults(handler=_prune)


def _prune(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise SystemExit("gql-keys: --batch-size must be at least 1")
    settings = load_settings()
    retention = timedelta(days=settings.security_event_retention_days)
    now = datetime.now(UTC)
    progress = Progress(sys.stdout)

    deleted = run_with_database(
        settings, lambda: prune_events(now, retention, args.batch_size, progress)
    )
    progress.finish()
    cutoff = (now - retention).isoformat(timespec="seconds")
    print(f"deleted {deleted} security event(s) older than {cutoff}")
    return 0
