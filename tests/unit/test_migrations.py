"""Migrations that move data: a database made before them comes out as if it had always
had the new columns (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from gql_keys.db import tortoise_config
from gql_keys.settings import Settings
from harness.databases import create_postgres_database, drop_postgres_database
from tests.conftest import POSTGRES_URL, require_service

# The migration this one follows, whatever merges put before it.
((_, _BEFORE),) = import_module("gql_keys.migrations.0008_dashboard_product").Migration.dependencies
BEFORE_DASHBOARD_PRODUCT = f"models.{_BEFORE}"

# Two keys of one account; the first was rolled twice (the log keeps both rolls), the
# second never.
OLD_ROWS = """
INSERT INTO users (id, email, password_hash, created_at, two_factor_enabled, totp_last_step)
  VALUES (1, 'old@example.com', 'x', '2026-01-01 00:00:00+00:00', TRUE, 0);
INSERT INTO api_keys (id, key, label, algorithm, scopes, ip_allowlist, state, created_at,
  expiry_clamped, user_id)
  VALUES (1, 'gqk_rolled', 'desk bot', 'HMAC_SHA512', '[]', '[]', 'active',
    '2026-01-01 00:00:00+00:00', FALSE, 1),
  (2, 'gqk_never', 'reporting', 'HMAC_SHA512', '[]', '[]', 'active',
    '2026-01-01 00:00:00+00:00', FALSE, 1);
INSERT INTO security_events (kind, occurred_at, api_key_id, user_id) VALUES
  ('KEY_CREATED', '2026-01-01 00:00:00+00:00', 1, 1),
  ('KEY_ROLLED', '2026-02-01 10:00:00+00:00', 1, 1),
  ('KEY_ROLLED', '2026-03-01 10:00:00+00:00', 1, 1),
  ('KEY_CREATED', '2026-01-01 00:00:00+00:00', 2, 1);
"""


@pytest.fixture
async def database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite://{tmp_path / 'old.sqlite3'}"
        return
    base = require_service("postgres", POSTGRES_URL)
    url = await create_postgres_database(base, f"gql_keys_migration_{secrets.token_hex(4)}")
    yield url
    await drop_postgres_database(base, url)


async def migrate_to(url: str, target: str | None, tmp_path: Path) -> None:
    config = tortoise_config(Settings(data_dir=tmp_path / "data", database_url=url))
    try:
        await migrate(config=config, target=target)
    finally:
        await Tortoise.close_connections()


async def run_sql(url: str, script: str, query: str) -> list[tuple[Any, ...]]:
    """Run ``script``, then return the rows of ``query``, straight through the driver."""
    if url.startswith("sqlite://"):
        with sqlite3.connect(url.removeprefix("sqlite://")) as db:
            db.executescript(script)
            return db.execute(query).fetchall()
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        if script:
            await conn.execute(script)
        return [tuple(row) for row in await conn.fetch(query)]
    finally:
        await conn.close()


def moment(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


async def test_keys_rolled_before_the_upgrade_get_rolled_at_from_their_last_roll_event(
    database_url: str, tmp_path: Path
) -> None:
    await migrate_to(database_url, BEFORE_DASHBOARD_PRODUCT, tmp_path)
    await run_sql(database_url, OLD_ROWS, "SELECT 1")
    await migrate_to(database_url, None, tmp_path)

    keys = await run_sql(database_url, "", "SELECT key, rolled_at FROM api_keys ORDER BY id")
    assert [(key, moment(at)) for key, at in keys] == [
        ("gqk_rolled", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("gqk_never", None),
    ]
    labels = await run_sql(database_url, "", "SELECT DISTINCT key_label FROM security_events")
    assert labels == [(None,)]  # the label at the time of an old event is not known
