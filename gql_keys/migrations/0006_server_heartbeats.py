from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0005_live_keys_index")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ServerHeartbeat",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("instance", fields.CharField(unique=True, max_length=128)),
                ("started_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "seen_at",
                    fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={"table": "server_heartbeats", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
