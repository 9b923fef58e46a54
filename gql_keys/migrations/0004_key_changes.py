import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0003_account_security")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ApiKey",
            name="expiry_notified_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="ApiKey",
            name="previous_public_key",
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name="ApiKey",
            name="previous_secret_expires_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="ApiKey",
            name="previous_secret_sealed",
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddIndex(
            model_name="ApiKey",
            index=Index(fields=["user_id", "state", "last_used_at"]),
        ),
        ops.AddIndex(
            model_name="ApiKey",
            index=Index(fields=["expiry_notified_at", "expires_at"]),
        ),
        ops.AddField(
            model_name="KeyChallenge",
            name="payload",
            field=fields.JSONField(
                null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
            ),
        ),
        ops.AddField(
            model_name="KeyChallenge",
            name="purpose",
            field=fields.CharField(db_default="CREATE_KEY", max_length=16),
        ),
        ops.AddField(
            model_name="UsageLog",
            name="signed_with_previous_secret",
            field=fields.BooleanField(db_default=False),
        ),
    ]
