"""``gql-keys logs prune --older-than 90d``: delete old raw usage rows (rollups stay)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from gql_keys.cli.database import run_with_database
from gql_keys.services.usage import parse_age, prune_logs
from gql_keys.settings import load_settings

BAR_WIDTH = 30


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "logs",
        help="maintain usage logs",
        description="Maintain the raw usage-log rows (usage statistics live in rollups).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    prune = actions.add_parser(
        "prune",
        help="delete raw usage rows older than a given age, in batches",
        description="Delete raw usage-log rows older than --older-than, in batches. "
        "Usage statistics (rollups) are kept. Shows a progress bar on a terminal.",
    )
    prune.add_argument(
        "--older-than",
        required=True,
        type=_age,
        metavar="AGE",
        help="e.g. 90d, 12h, 30m or 45s",
    )
    prune.add_argument(
        "--batch-size", type=int, default=5000, help="rows deleted per statement (default 5000)"
    )
    prune.set_defaults(handler=_prune)


def _age(text: str) -> timedelta:
    try:
        return parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class Progress:
    """A one-line bar redrawn in place on a terminal; silent otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.enabled = out.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        filled = BAR_WIDTH if total == 0 else BAR_WIDTH * done // total
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.out.write(f"\rpruning [{bar}] {done:,}/{total:,}")
        self.out.flush()

    def finish(self) -> None:
        if self.enabled:
            self.out.write("\n")


def _prune(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise SystemExit("gql-keys: --batch-size must be at least 1")
    settings = load_settings()
    older_than: timedelta = args.older_than
    now = datetime.now(UTC)
    progress = Progress(sys.stdout)

    deleted = run_with_database(
        settings, lambda: prune_logs(now, older_than, args.batch_size, progress)
    )
    progress.finish()
    cutoff = (now - older_than).isoformat(timespec="seconds")
    print(f"deleted {deleted} usage log row(s) older than {cutoff}; usage statistics kept")
    return 0
