"""``gql-keys``: serve, migrate, export-schema, service-token, logs, security-events, keys."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gql_keys.cli import keys, prune, security_events, serve, tokens
from gql_keys.cli.database import DatabaseUnavailable, migrate_database, safe_url
from gql_keys.settings import SettingsError, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gql-keys",
        description="The API-key authority of a trading platform, served as a GraphQL API.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_parser(commands)

    migrate_parser = commands.add_parser(
        "migrate",
        help="bring the database to the current schema (idempotent)",
        description="Apply pending migrations to the database named by GQL_KEYS_DATABASE_URL.",
    )
    migrate_parser.set_defaults(handler=_migrate)

    export_parser = commands.add_parser(
        "export-schema",
        help="print the GraphQL SDL to standard output",
        description="Print the schema (SDL) that the server serves.",
    )
    export_parser.set_defaults(handler=_export_schema)

    tokens.add_parser(commands)
    prune.add_parser(commands)
    security_events.add_parser(commands)
    keys.add_parser(commands)
    return parser


def _migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    migrate_database(settings)
    print(f"database is at the current schema ({safe_url(settings.effective_database_url)})")
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from gql_keys.graphql.schema import schema_sdl

    sys.stdout.write(schema_sdl())
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except SettingsError as exc:
        parser.exit(2, f"gql-keys: {exc}\n")
    except DatabaseUnavailable as exc:
        parser.exit(1, f"gql-keys: {exc}\n")
    sys.exit(code)
