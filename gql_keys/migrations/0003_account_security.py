from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0002_usage_logs_denied_index")]

    initial = False

    operations = [
        ops.CreateModel(
            name="SecurityEvent",
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
                        related_name="security_events",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("kind", fields.CharField(max_length=32)),
                ("occurred_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("client_ip", fields.CharField(null=True, max_length=45)),
                ("user_agent", fields.CharField(null=True, max_length=256)),
                (
                    "api_key",
                    fields.ForeignKeyField(
                        "models.ApiKey",
                        source_field="api_key_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="security_events",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
            ],
            options={
                "table": "security_events",
                "app": "models",
                "indexes": [
                    Index(fields=["user_id", "occurred_at", "id"]),
                    Index(fields=["occurred_at", "id"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Session",
            name="client_ip",
            field=fields.CharField(null=True, max_length=45),
        ),
        ops.AddField(
            model_name="Session",
            name="user_agent",
            field=fields.CharField(null=True, max_length=256),
        ),
        ops.AddIndex(
            model_name="Session",
            index=Index(fields=["user_id", "expires_at"]),
        ),
    ]
