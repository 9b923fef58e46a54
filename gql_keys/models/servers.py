"""Serving processes, as the database last saw them (so the command line can tell whether
it shares its database with a running server)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ServerHeartbeat(Model):
    id = fields.IntField(primary_key=True)
    # "host:pid" of one `gql-keys serve` worker
    instance = fields.CharField(max_length=128, unique=True)
    started_at = fields.DatetimeField()
    seen_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "server_heartbeats"
