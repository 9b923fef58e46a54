import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="ServiceToken",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("name", fields.CharField(unique=True, max_length=64)),
                ("role", fields.CharField(max_length=16)),
                ("token_digest", fields.CharField(unique=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "service_tokens", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ThrottleCounter",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("subject", fields.CharField(unique=True, max_length=200)),
                ("failures", fields.IntField(default=0)),
                ("window_started_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "blocked_until",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("strikes", fields.IntField(default=0)),
            ],
            options={"table": "throttle_counters", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="User",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("email", fields.CharField(unique=True, max_length=254)),
                ("password_hash", fields.CharField(max_length=255)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("totp_seed_sealed", fields.CharField(null=True, max_length=255)),
                ("totp_pending_seed_sealed", fields.CharField(null=True, max_length=255)),
                ("two_factor_enabled", fields.BooleanField(default=False)),
                ("totp_last_step", fields.BigIntField(default=0)),
            ],
            options={"table": "users", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ApiKey",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="api_keys",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("key", fields.CharField(unique=True, max_length=64)),
                ("label", fields.CharField(max_length=64)),
                ("algorithm", fields.CharField(max_length=16)),
                (
                    "scopes",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "ip_allowlist",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("secret_sealed", fields.CharField(null=True, max_length=255)),
                ("public_key", fields.CharField(null=True, max_length=64)),
                ("state", fields.CharField(default="pending", max_length=16)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "activated_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("expires_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("expiry_clamped", fields.BooleanField(default=False)),
                ("deleted_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("rate_limit_requests", fields.IntField(null=True)),
                ("rate_limit_per_seconds", fields.IntField(null=True)),
                (
                    "last_used_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("last_used_ip", fields.CharField(null=True, max_length=45)),
            ],
            options={
                "table": "api_keys",
                "app": "models",
                "indexes": [Index(fields=["user_id", "state", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="KeyChallenge",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=64)),
                (
                    "user",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="challenges",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "api_key",
                    fields.ForeignKeyField(
                        "models.ApiKey",
                        source_field="api_key_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="challenges",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("attempts", fields.IntField(default=0)),
                (
                    "consumed_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={"table": "key_challenges", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RecoveryCode",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="recovery_codes",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("code_hash", fields.CharField(max_length=255)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "recovery_codes", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Session",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="sessions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("token_digest", fields.CharField(unique=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("last_seen_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "sessions", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="UsageLog",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "api_key",
                    fields.ForeignKeyField(
                        "models.ApiKey",
                        source_field="api_key_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="usage_logs",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("key", fields.CharField(max_length=128)),
                ("occurred_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("allowed", fields.BooleanField()),
                ("code", fields.CharField(max_length=32)),
                ("client_ip", fields.CharField(max_length=45)),
                ("method", fields.CharField(max_length=16)),
                ("path", fields.CharField(max_length=512)),
                ("required_scope", fields.CharField(null=True, max_length=32)),
            ],
            options={
                "table": "usage_logs",
                "app": "models",
                "indexes": [
                    Index(fields=["api_key_id", "occurred_at", "id"]),
                    Index(fields=["occurred_at", "id"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="UsageRollup",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "api_key",
                    fields.ForeignKeyField(
                        "models.ApiKey",
                        source_field="api_key_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="rollups",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("bucket", fields.CharField(max_length=8)),
                ("bucket_start", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("allowed", fields.IntField(default=0)),
                ("denied", fields.IntField(default=0)),
            ],
            options={
                "table": "usage_rollups",
                "app": "models",
                "unique_together": (("api_key_id", "bucket", "bucket_start"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
