from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="UsageLog",
            index=Index(fields=["api_key_id", "allowed", "occurred_at", "id"]),
        ),
    ]
