"""Usage totals per day (both databases); on PostgreSQL, ``usage_logs`` partitioned by day.

The conversion copies every row into a new table partitioned by RANGE (occurred_at), one
partition per UTC day from the oldest row's day to a week ahead plus a DEFAULT partition,
then swaps the names, all in this migration's one transaction. ``usage_logs`` is locked
IN EXCLUSIVE MODE first: reads go on, writes (every verification's row) wait until the
commit, so no row is lost. Self-contained: later code may change, this must not.
"""

from datetime import UTC, datetime, timedelta

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

AHEAD_DAYS = 7
MAX_DAYS_BACK = 1000  # rows older than this stay in the DEFAULT partition

SQLITE_TOTALS = (
    "INSERT INTO usage_totals (day, shard, allowed, denied) "
    "SELECT substr(occurred_at, 1, 10) || ' 00:00:00+00:00', 0, "
    "SUM(CASE WHEN allowed THEN 1 ELSE 0 END), SUM(CASE WHEN allowed THEN 0 ELSE 1 END) "
    "FROM usage_logs GROUP BY substr(occurred_at, 1, 10)"
)
POSTGRES_TOTALS = (
    "INSERT INTO usage_totals (day, shard, allowed, denied) "
    "SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', 0, "
    "COUNT(*) FILTER (WHERE allowed), COUNT(*) FILTER (WHERE NOT allowed) "
    "FROM usage_logs GROUP BY 1"
)


def _literal(day: datetime) -> str:
    return f"'{day:%Y-%m-%d} 00:00:00+00'"


async def forward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        await client.execute_script(SQLITE_TOTALS)
        return
    partitioned = await client.execute_query_dict(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = 'usage_logs' AND pg_table_is_visible(c.oid)"
    )
    if partitioned:
        await client.execute_script(POSTGRES_TOTALS)
        return
    await client.execute_script("LOCK TABLE usage_logs IN EXCLUSIVE MODE")
    indexes = await client.execute_query_dict(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = 'usage_logs' AND indexname <> 'usage_logs_pkey'"
    )
    oldest = await client.execute_query_dict("SELECT min(occurred_at) AS at FROM usage_logs")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today
    if oldest[0]["at"] is not None:
        at = oldest[0]["at"].astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        first = max(min(at, today), today - timedelta(days=MAX_DAYS_BACK))
    statements = [
        "ALTER SEQUENCE usage_logs_id_seq OWNED BY NONE",
        "CREATE TABLE usage_logs_partitioned (LIKE usage_logs INCLUDING DEFAULTS, "
        "PRIMARY KEY (id, occurred_at), FOREIGN KEY (api_key_id) REFERENCES api_keys (id) "
        "ON DELETE SET NULL) PARTITION BY RANGE (occurred_at)",
        "CREATE TABLE usage_logs_default PARTITION OF usage_logs_partitioned DEFAULT",
    ]
    day = first
    while day <= today + timedelta(days=AHEAD_DAYS):
        statements.append(
            f"CREATE TABLE usage_logs_p{day:%Y%m%d} PARTITION OF usage_logs_partitioned "
            f"FOR VALUES FROM ({_literal(day)}) TO ({_literal(day + timedelta(days=1))})"
        )
        day += timedelta(days=1)
    statements += [
        "INSERT INTO usage_logs_partitioned SELECT * FROM usage_logs",
        "DROP TABLE usage_logs",
        "ALTER TABLE usage_logs_partitioned RENAME TO usage_logs",
        "ALTER TABLE usage_logs RENAME CONSTRAINT usage_logs_partitioned_pkey TO usage_logs_pkey",
        "ALTER TABLE usage_logs RENAME CONSTRAINT usage_logs_partitioned_api_key_id_fkey "
        "TO usage_logs_api_key_id_fkey",
        "ALTER SEQUENCE usage_logs_id_seq OWNED BY usage_logs.id",
        *(row["indexdef"] for row in indexes),
        POSTGRES_TOTALS,
        "ANALYZE usage_logs",
    ]
    for statement in statements:
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0011_notifications")]

    initial = False

    operations = [
        ops.CreateModel(
            name="UsageTotal",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("day", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("shard", fields.SmallIntField()),
                ("allowed", fields.BigIntField(default=0)),
                ("denied", fields.BigIntField(default=0)),
            ],
            options={
                "table": "usage_totals",
                "app": "models",
                "unique_together": (("day", "shard"),),
                "pk_attr": "id",
                "table_description": "Usage-log rows per UTC day, kept by the writer in the "
                "same transaction as the rows.",
            },
            bases=["Model"],
        ),
        ops.RunPython(forward, reverse_code=None),
    ]
