from tortoise import migrations
from tortoise.migrations import operations as ops

# A user's undeleted keys, newest first (apiKeys, unusedForDays included). Partial, so an
# account that deleted thousands of keys is not read row by row and PostgreSQL can walk
# it in id order; the same SQL on SQLite and PostgreSQL.
LIVE_KEYS_INDEX = (
    "CREATE INDEX idx_api_keys_live_user_id ON api_keys (user_id, state, id) "
    "WHERE deleted_at IS NULL"
)


class Migration(migrations.Migration):
    dependencies = [("models", "0004_key_changes")]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name="ApiKey",
            name=None,
            fields=["user_id", "state", "last_used_at"],
        ),
        ops.RunSQL(LIVE_KEYS_INDEX, reverse_sql="DROP INDEX idx_api_keys_live_user_id"),
    ]
