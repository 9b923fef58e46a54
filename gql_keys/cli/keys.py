"""``gql-keys keys report-leak``: quarantine the key whose secret was reported.

For leaks reported by hand (an e-mail, a ticket, a pasted screenshot): the secret is read
from standard input, never from the command line, where the shell history and ``ps``
would keep it. It goes through the same service as GitHub's secret-scanning alerts; the
key's identifier is printed alone on standard output (exit 0), or the command says that
no live key has that secret (exit 1). With ``GQL_KEYS_REDIS_URL`` every worker drops its
cached copy of the key at once; without it a running server sees the quarantine within
``GQL_KEYS_KEY_CACHE_TTL_SECONDS`` (at most 5 s).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from gql_keys.cli.database import run_with_database
from gql_keys.runtime import build_runtime
from gql_keys.security.masterkey import MASTER_KEY_FILE
from gql_keys.services.quarantine import LeakOutcome, report_leaks
from gql_keys.settings import Settings, load_settings

MAX_SECRET_LENGTH = 1024


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "keys",
        help="operator actions on API keys",
        description="Operator actions on API keys.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    report = actions.add_parser(
        "report-leak",
        help="quarantine the live key whose secret is read from standard input",
        description="Read one leaked secret from standard input (never from the command "
        "line) and quarantine its key (reason LEAK_REPORTED): it keeps reading and "
        "cancelling orders until its owner rolls, releases or deletes it. Prints the key's "
        "identifier; exits 1 when no live key has that secret.",
    )
    # Caught to refuse it without echoing it (argparse would print it back).
    report.add_argument("argv_secret", nargs="*", help=argparse.SUPPRESS)
    report.set_defaults(handler=_report_leak)


def _read_secret() -> str:
    if sys.stdin.isatty():
        text = getpass.getpass("Leaked secret (not echoed): ")
    else:
        text = sys.stdin.read(MAX_SECRET_LENGTH + 1)
    secret = text.strip()
    if not secret:
        raise SystemExit("gql-keys: no secret on standard input")
    if len(secret) > MAX_SECRET_LENGTH or len(secret.split()) != 1:
        raise SystemExit("gql-keys: standard input must hold exactly one secret")
    return secret


def _require_master_key(settings: Settings) -> None:
    """The lookup needs the server's master key: never make a new one here."""
    if settings.master_key or (Path(settings.data_dir) / MASTER_KEY_FILE).is_file():
        return
    raise SystemExit(
        "gql-keys: no master key: set GQL_KEYS_MASTER_KEY (or GQL_KEYS_DATA_DIR) as the "
        "server has it"
    )


def _report_leak(args: argparse.Namespace) -> int:
    if args.argv_secret:
        raise SystemExit(
            "gql-keys: pass the secret on standard input, not as an argument (the shell "
            "history and the process list would keep it): gql-keys keys report-leak < file"
        )
    settings = load_settings()
    secret = _read_secret()
    _require_master_key(settings)

    async def report() -> LeakOutcome | None:
        rt = build_runtime(settings)
        try:
            return (await report_leaks(rt, [secret], None)).get(secret)
        finally:
            rt.passwords.close()
            if rt.redis is not None:
                await rt.redis.aclose()

    outcome = run_with_database(settings, report)
    if outcome is None:
        print("gql-keys: no live key has this secret", file=sys.stderr)
        return 1
    if outcome.canary:
        note = "a canary key: its owner is alerted (CANARY_TRIPPED)"
    elif outcome.newly_quarantined:
        note = "quarantined (LEAK_REPORTED)"
    else:
        note = "already quarantined for a reported leak"
    print(outcome.key)
    print(f"gql-keys: {outcome.key}: {note}", file=sys.stderr)
    return 0
