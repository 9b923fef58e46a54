"""Accounts, their sessions and recovery codes, and service tokens."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

# Client user agents are stored cut to this length.
MAX_USER_AGENT_LENGTH = 256


class User(Model):
    id = fields.BigIntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)
    # AES-GCM sealed TOTP seeds (never plaintext); pending until confirmed.
    totp_seed_sealed = fields.CharField(max_length=255, null=True)
    totp_pending_seed_sealed = fields.CharField(max_length=255, null=True)
    two_factor_enabled = fields.BooleanField(default=False)
    # Highest TOTP time step accepted so far: a code is accepted at most once.
    totp_last_step = fields.BigIntField(default=0)

    sessions: fields.ReverseRelation[Session]
    recovery_codes: fields.ReverseRelation[RecoveryCode]

    class Meta:
        table = "users"


class Session(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    token_digest = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    # Where the session logged in from (the user agent bounded in length).
    client_ip = fields.CharField(max_length=45, null=True)
    user_agent = fields.CharField(max_length=MAX_USER_AGENT_LENGTH, null=True)

    user_id: int

    class Meta:
        table = "sessions"
        # A user's live sessions: listing them, ending all but one.
        indexes = (("user_id", "expires_at"),)


class RecoveryCode(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="recovery_codes", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=255)
    used_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "recovery_codes"


class ServiceToken(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    role = fields.CharField(max_length=16)
    token_digest = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "service_tokens"
