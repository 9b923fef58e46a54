"""``gql-keys service-token create|list|revoke``."""

from __future__ import annotations

import argparse
from typing import Any

from gql_keys.cli.database import run_with_database
from gql_keys.principals import ServiceRole
from gql_keys.services import service_tokens
from gql_keys.settings import load_settings


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "service-token",
        help="manage service tokens for gateways (verifier) and monitors (monitor)",
        description="Create, list and revoke service tokens.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create",
        help="create a token and print it (only the token, on standard output)",
        description="Create a service token, printed once and stored only as a digest.",
    )
    create.add_argument("--name", required=True, help="unique name, e.g. gateway-eu-1")
    create.add_argument(
        "--role", required=True, choices=[r.value for r in ServiceRole], help="what it may do"
    )
    create.set_defaults(handler=_create)

    listing = actions.add_parser("list", help="list tokens (names and roles, never the tokens)")
    listing.set_defaults(handler=_list)

    revoke = actions.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name", help="the token's name")
    revoke.set_defaults(handler=_revoke)


def _create(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        token = run_with_database(
            settings, lambda: service_tokens.create(args.name, ServiceRole(args.role))
        )
    except service_tokens.TokenNameTaken:
        raise SystemExit(f"gql-keys: a service token named {args.name!r} exists") from None
    except ValueError as exc:
        raise SystemExit(f"gql-keys: {exc}") from None
    print(token)
    return 0


def _list(args: argparse.Namespace) -> int:
    settings = load_settings()
    rows = run_with_database(settings, service_tokens.list_all)
    for row in rows:
        status = "revoked" if row.revoked_at else "active"
        print(f"{row.name}\t{row.role}\t{status}\t{row.created_at.isoformat()}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    settings = load_settings()
    revoked = run_with_database(settings, lambda: service_tokens.revoke(args.name))
    if not revoked:
        raise SystemExit(f"gql-keys: no active service token named {args.name!r}")
    print(f"revoked {args.name}")
    return 0
