"""Migration 0012 on a database with usage rows: every row kept with its id, counted in
the day totals; on PostgreSQL the table comes out partitioned by day and keeps taking rows."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path

from tests.unit.test_migrations import database_url, migrate_to, run_sql

__all__ = ["database_url"]  # the fixture, reused

((_, _BEFORE),) = import_module("gql_keys.migrations.0012_usage_partitions").Migration.dependencies
BEFORE_PARTITIONS = f"models.{_BEFORE}"

ROWS = 3000  # over 125 days, one an hour
OLD_ROWS = f"""
INSERT INTO users (id, email, password_hash, created_at, two_factor_enabled, totp_last_step)
  VALUES (1, 'old@example.com', 'x', '2026-01-01 00:00:00+00:00', TRUE, 0);
INSERT INTO api_keys (id, key, label, algorithm, scopes, ip_allowlist, state, created_at,
  expiry_clamped, user_id)
  VALUES (1, 'gqk_old', 'desk bot', 'HMAC_SHA512', '[]', '[]', 'active',
    '2026-01-01 00:00:00+00:00', FALSE, 1);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
INSERT INTO usage_logs (api_key_id, key, occurred_at, allowed, code, client_ip, method, path)
  SELECT CASE WHEN i % 10 = 0 THEN NULL ELSE 1 END, 'gqk_old',
    '2026-01-01 00:00:00+00:00', i % 4 <> 0, 'VALID', '203.0.113.7', 'GET', '/api' FROM n;
"""
# Spread the rows one an hour (the same expression would not be valid in both dialects).
SPREAD_POSTGRES = "UPDATE usage_logs SET occurred_at = occurred_at + id * interval '1 hour'"
SPREAD_SQLITE = (
    "UPDATE usage_logs SET occurred_at = "
    "strftime('%Y-%m-%d %H:%M:%S', occurred_at, '+' || id || ' hours') || '+00:00'"
)


async def test_existing_usage_rows_survive_with_their_ids_and_day_totals(
    database_url: str, tmp_path: Path
) -> None:
    postgres = not database_url.startswith("sqlite://")
    await migrate_to(database_url, BEFORE_PARTITIONS, tmp_path)
    spread = SPREAD_POSTGRES if postgres else SPREAD_SQLITE
    before = await run_sql(
        database_url,
        OLD_ROWS + spread + ";",
        "SELECT id, occurred_at, allowed, api_key_id FROM usage_logs ORDER BY id",
    )
    assert len(before) == ROWS

    await migrate_to(database_url, None, tmp_path)

    after = await run_sql(
        database_url, "", "SELECT id, occurred_at, allowed, api_key_id FROM usage_logs ORDER BY id"
    )
    assert after == before
    totals = await run_sql(
        database_url, "", "SELECT SUM(allowed), SUM(denied), COUNT(*) FROM usage_totals"
    )
    assert totals == [(ROWS - ROWS // 4, ROWS // 4, 126)]
    if not postgres:
        return
    days = await run_sql(
        database_url,
        "",
        "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = 'usage_logs'",
    )
    assert days[0][0] >= 126 + 1  # one per day with rows, more ahead, and DEFAULT
    default = await run_sql(database_url, "", "SELECT count(*) FROM usage_logs_default")
    assert default == [(0,)]
    added = await run_sql(
        database_url,
        "INSERT INTO usage_logs (key, occurred_at, allowed, code, client_ip, method, path) "
        f"VALUES ('k', '{datetime.now(UTC).isoformat()}', TRUE, 'VALID', 'ip', 'GET', '/')",
        "SELECT max(id) FROM usage_logs",
    )
    assert added == [(ROWS + 1,)]
