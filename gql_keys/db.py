"""Tortoise configuration and schema migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tortoise import Tortoise
from tortoise.connection import connections
from tortoise.migrations.api import migrate as tortoise_migrate
from tortoise.migrations.executor import MigrationExecutor
from tortoise.transactions import in_transaction

from gql_keys.repositories.usage_partitions import ensure_ahead
from gql_keys.settings import Settings

if TYPE_CHECKING:
    from tortoise.backends.base.client import TransactionContext

APP_LABEL = "models"
MODEL_MODULES = ["gql_keys.models"]
MIGRATIONS_MODULE = "gql_keys.migrations"


def connection_label(database_url: str) -> str:
    """Name each dialect's connection apart: Tortoise caches built SQL per connection name."""
    scheme = database_url.split(":", 1)[0]
    return "postgres" if scheme in ("postgres", "postgresql", "asyncpg", "psycopg") else scheme


def transaction(settings: Settings) -> TransactionContext:
    """``async with transaction(settings):`` runs the block's queries in one transaction."""
    return in_transaction(connection_label(settings.effective_database_url))


def tortoise_config(settings: Settings) -> dict[str, Any]:
    url = settings.effective_database_url
    label = connection_label(url)
    return {
        "connections": {label: url},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": label,
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def ensure_data_dir(settings: Settings) -> None:
    if settings.is_sqlite and not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)


async def migrate(settings: Settings) -> None:
    """Bring the database to the current schema; applying twice changes nothing."""
    ensure_data_dir(settings)
    try:
        await tortoise_migrate(config=tortoise_config(settings))
        # PostgreSQL: this week's usage_logs partitions exist before any server starts.
        await ensure_ahead(datetime.now(UTC), settings.usage_partition_ahead_days)
    finally:
        await Tortoise.close_connections()


async def pending_migrations(settings: Settings) -> tuple[list[str], int]:
    """The migrations not yet applied to the (connected) database, and how many exist.

    All of them pending means ``gql-keys migrate`` (or ``serve``) never set it up.
    """
    label = connection_label(settings.effective_database_url)
    executor = MigrationExecutor(connections.get(label), tortoise_config(settings)["apps"])
    steps = await executor.plan()
    total = len(executor.loader.graph.nodes)
    return [step.migration.name for step in steps if not step.backward], total
