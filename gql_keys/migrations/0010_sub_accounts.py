from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0009_key_safety")]

    initial = False

    operations = [
        ops.CreateModel(
            name="SubAccount",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "master",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="master_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="sub_accounts",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("label", fields.CharField(max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("locked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("deleted_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "sub_accounts",
                "app": "models",
                "indexes": [Index(fields=["master_id", "deleted_at", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="ApiKey",
            name="sub_account",
            field=fields.ForeignKeyField(
                "models.SubAccount",
                source_field="sub_account_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="api_keys",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.AddIndex(
            model_name="ApiKey",
            index=Index(fields=["sub_account_id", "state", "id"]),
        ),
        ops.AlterField(
            model_name="KeyChallenge",
            name="api_key",
            field=fields.ForeignKeyField(
                "models.ApiKey",
                source_field="api_key_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="challenges",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.AlterField(
            model_name="KeyChallenge",
            name="purpose",
            field=fields.CharField(db_default="CREATE_KEY", max_length=32),
        ),
        ops.AddField(
            model_name="SecurityEvent",
            name="sub_account",
            field=fields.ForeignKeyField(
                "models.SubAccount",
                source_field="sub_account_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="security_events",
                on_delete=OnDelete.SET_NULL,
            ),
        ),
    ]
