from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# The requests a key's previous secret signed since its last roll (the dashboard's "still
# on the old secret" count): partial, so only those rows enter it and the usage writer pays
# nothing for the others. "= TRUE" is the one spelling both SQLite and PostgreSQL accept
# that SQLite also matches against the "signed_with_previous_secret = ?" the ORM sends.
PREVIOUS_SECRET_INDEX = (
    "CREATE INDEX idx_usage_logs_previous_secret ON usage_logs (api_key_id, occurred_at) "
    "WHERE signed_with_previous_secret = TRUE"
)
# Keys rolled before rolled_at existed: the time of their last KEY_ROLLED event.
BACKFILL_ROLLED_AT = (
    "UPDATE api_keys SET rolled_at = (SELECT MAX(e.occurred_at) FROM security_events e "
    "WHERE e.api_key_id = api_keys.id AND e.kind = 'KEY_ROLLED')"
)


class Migration(migrations.Migration):
    dependencies = [("models", "0007_key_revision")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ApiKey",
            name="rolled_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunSQL(BACKFILL_ROLLED_AT, reverse_sql="SELECT 1"),
        ops.AddField(
            model_name="SecurityEvent",
            name="key_label",
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.RunSQL(PREVIOUS_SECRET_INDEX, reverse_sql="DROP INDEX idx_usage_logs_previous_secret"),
    ]
