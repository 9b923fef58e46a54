"""Sub-accounts: desks, strategies or clients run by one master account.

A sub-account has no password, e-mail or session of its own: its master manages it and
its keys (which keep ``user_id`` = the master, so every ownership rule on keys holds).
``locked_at`` stops its keys verifying; ``deleted_at`` marks a soft delete (its keys are
deleted with it and their history stays).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from gql_keys.models.accounts import User


class SubAccount(Model):
    id = fields.BigIntField(primary_key=True)
    master: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sub_accounts", on_delete=fields.CASCADE
    )
    label = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    locked_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)

    master_id: int

    class Meta:
        table = "sub_accounts"
        # subAccounts: one master's live sub-accounts newest first, keyset on id.
        indexes = (("master_id", "deleted_at", "id"),)
