"""Key safety: canaries, quarantine, the secret-lookup index, cooling-off changes.

Schema only. The lookup columns of keys that existed before this migration are filled
by every server at start-up, before it serves (``services.secret_lookups``): the keyed
hash needs the master key, which a migration run (``gql-keys migrate`` from a deploy job
holding only the database URL) need not have.
"""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0008_dashboard_product")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ApiKey",
            name="canary",
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name="ApiKey",
            name="pending_effective_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="ApiKey",
            name="pending_ip_allowlist",
            field=fields.JSONField(
                null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
            ),
        ),
        ops.AddField(
            model_name="ApiKey",
            name="pending_scopes",
            field=fields.JSONField(
                null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
            ),
        ),
        ops.AddField(
            model_name="ApiKey",
            name="previous_secret_lookup",
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name="ApiKey",
            name="quarantine_reason",
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name="ApiKey",
            name="quarantined_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="ApiKey",
            name="secret_lookup",
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddIndex(
            model_name="ApiKey",
            index=Index(fields=["secret_lookup"]),
        ),
        ops.AddIndex(
            model_name="ApiKey",
            index=Index(fields=["previous_secret_lookup"]),
        ),
        ops.AddIndex(
            model_name="ApiKey",
            index=Index(fields=["pending_effective_at"]),
        ),
    ]
