"""Usage-log rows (one per verification decision) and their rollup counters."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from gql_keys.models.keys import ApiKey


class UsageLog(Model):
    id = fields.BigIntField(primary_key=True)
    api_key: fields.ForeignKeyNullableRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name="usage_logs", null=True, on_delete=fields.SET_NULL
    )
    key = fields.CharField(max_length=128)
    occurred_at = fields.DatetimeField()
    allowed = fields.BooleanField()
    code = fields.CharField(max_length=32)
    client_ip = fields.CharField(max_length=45)
    method = fields.CharField(max_length=16)
    path = fields.CharField(max_length=512)
    required_scope = fields.CharField(max_length=32, null=True)
    # True when the signature matched the key's rolled-away secret (during an overlap).
    signed_with_previous_secret = fields.BooleanField(db_default=False)

    api_key_id: int | None

    class Meta:
        table = "usage_logs"
        indexes = (
            ("api_key_id", "occurred_at", "id"),
            ("occurred_at", "id"),
            # "What was denied?" reviews: a key's denied rows without reading its allowed ones.
            ("api_key_id", "allowed", "occurred_at", "id"),
            # Also idx_usage_logs_previous_secret, (api_key_id, occurred_at) WHERE
            # signed_with_previous_secret = TRUE, made by migration 0008 in SQL (partial): the
            # requests a rolled-away secret signed, counted without reading the others.
        )


class UsageRollup(Model):
    id = fields.BigIntField(primary_key=True)
    api_key: fields.ForeignKeyRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name="rollups", on_delete=fields.CASCADE
    )
    bucket = fields.CharField(max_length=8)  # MINUTE | HOUR | DAY
    bucket_start = fields.DatetimeField()
    allowed = fields.IntField(default=0)
    denied = fields.IntField(default=0)

    api_key_id: int

    class Meta:
        table = "usage_rollups"
        unique_together = (("api_key_id", "bucket", "bucket_start"),)


class UsageTotal(Model):
    """Usage-log rows per UTC day, kept by the writer in the same transaction as the rows.

    The monitor's exact ``totalCount`` sums these instead of counting millions of rows.
    Each writer process adds to its own shard, so workers never wait on one row lock;
    pruning subtracts what it removes.
    """

    id = fields.BigIntField(primary_key=True)
    day = fields.DatetimeField()
    shard = fields.SmallIntField()
    allowed = fields.BigIntField(default=0)
    denied = fields.BigIntField(default=0)

    class Meta:
        table = "usage_totals"
        unique_together = (("day", "shard"),)
