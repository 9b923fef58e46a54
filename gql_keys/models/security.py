"""The account security log: one append-only row per security-relevant action."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from gql_keys.models.accounts import MAX_USER_AGENT_LENGTH, User
from gql_keys.models.keys import ApiKey
from gql_keys.models.sub_accounts import SubAccount


class SecurityEvent(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="security_events", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=32)
    occurred_at = fields.DatetimeField()
    client_ip = fields.CharField(max_length=45, null=True)
    user_agent = fields.CharField(max_length=MAX_USER_AGENT_LENGTH, null=True)
    # Key events only; a key is never hard-deleted once confirmed.
    api_key: fields.ForeignKeyNullableRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name="security_events", null=True, on_delete=fields.SET_NULL
    )
    # The key's label when the event happened (a later rename does not rewrite history);
    # null for account events and for rows written before labels were kept.
    key_label = fields.CharField(max_length=64, null=True)
    # Sub-account events (and its keys' events) on the master's log.
    sub_account: fields.ForeignKeyNullableRelation[SubAccount] = fields.ForeignKeyField(
        "models.SubAccount", related_name="security_events", null=True, on_delete=fields.SET_NULL
    )

    user_id: int
    api_key_id: int | None
    sub_account_id: int | None

    class Meta:
        table = "security_events"
        indexes = (
            # securityEvents: one user's rows newest first, keyset on (occurred_at, id).
            ("user_id", "occurred_at", "id"),
            # Retention pruning: the oldest rows of every user.
            ("occurred_at", "id"),
        )
