"""Creating, migrating and emptying the real test databases."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise.connection import connections

from gql_keys.db import migrate
from gql_keys.settings import Settings

TABLES = [
    "notification_deliveries",
    "webhook_endpoints",
    "security_events",
    "usage_rollups",
    "usage_totals",
    "usage_logs",
    "key_challenges",
    "api_keys",
    "sub_accounts",
    "recovery_codes",
    "sessions",
    "service_tokens",
    "throttle_counters",
    "server_heartbeats",
    "users",
]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _asyncpg_dsn(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


async def create_postgres_database(base_url: str, name: str) -> str:
    conn = await asyncpg.connect(_asyncpg_dsn(base_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return _with_database(base_url, name)


async def drop_postgres_database(base_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(_asyncpg_dsn(base_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrate_url(url: str) -> None:
    await migrate(Settings(data_dir=Path("/nonexistent"), database_url=url))


async def truncate_all() -> None:
    """Empty every table of the connection the app just opened."""
    for connection in connections.all():
        if connection.capabilities.dialect == "postgres":
            await connection.execute_script(
                f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"
            )
        else:
            for table in TABLES:
                await connection.execute_script(f"DELETE FROM {table}")
