"""API keys and the two-factor challenges that activate them."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from gql_keys.models.accounts import User
from gql_keys.models.sub_accounts import SubAccount


class ApiKey(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="api_keys", on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=64, unique=True)
    label = fields.CharField(max_length=64)
    algorithm = fields.CharField(max_length=16)
    scopes: fields.Field[list[str]] = fields.JSONField(default=list)
    ip_allowlist: fields.Field[list[str]] = fields.JSONField(default=list)
    # HMAC keys: the secret sealed with AES-GCM. ED25519 keys: the raw public key, base64.
    secret_sealed = fields.CharField(max_length=255, null=True)
    public_key = fields.CharField(max_length=64, null=True)
    # pending -> active; deleted_at marks a soft delete.
    state = fields.CharField(max_length=16, default="pending")
    created_at = fields.DatetimeField()
    activated_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    expiry_clamped = fields.BooleanField(default=False)
    deleted_at = fields.DatetimeField(null=True)
    rate_limit_requests = fields.IntField(null=True)
    rate_limit_per_seconds = fields.IntField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    last_used_ip = fields.CharField(max_length=45, null=True)
    # After a roll: the rolled-away secret (sealed) or public key keeps verifying until
    # previous_secret_expires_at; all three are null outside an overlap.
    previous_secret_sealed = fields.CharField(max_length=255, null=True)
    previous_public_key = fields.CharField(max_length=64, null=True)
    previous_secret_expires_at = fields.DatetimeField(null=True)
    # When the last roll was confirmed; null for a key never rolled.
    rolled_at = fields.DatetimeField(null=True)
    # Set by the one worker that claimed this key's KEY_EXPIRING notice.
    expiry_notified_at = fields.DatetimeField(null=True)
    # Counts the owner's changes (update, roll, ...): a challenge to change or roll the key
    # confirms only the revision it was opened on (see repositories.keys.change_key).
    revision = fields.IntField(default=0, db_default=0)
    # A sub-account's key (user_id stays the master, who manages it); null: the master's own.
    sub_account: fields.ForeignKeyNullableRelation[SubAccount] = fields.ForeignKeyField(
        "models.SubAccount", related_name="api_keys", null=True, on_delete=fields.CASCADE
    )
    # A decoy: every use is denied CANARY_TRIPPED, answered like an unknown key.
    canary = fields.BooleanField(default=False, db_default=False)
    # Quarantined: only reads and order cancellations verify (reason LEAK_REPORTED | OWNER).
    quarantined_at = fields.DatetimeField(null=True)
    quarantine_reason = fields.CharField(max_length=16, null=True)
    # HMAC keys: a keyed hash (HMAC-SHA256 under a key derived from the master key) of the
    # secret, and of the rolled-away one during its overlap, to find a key by a leaked
    # secret without opening every sealed one. Null for ED25519 keys.
    secret_lookup = fields.CharField(max_length=64, null=True)
    previous_secret_lookup = fields.CharField(max_length=64, null=True)
    # A confirmed change granting WITHDRAW (or widening a WITHDRAW key's allowlist) that is
    # cooling off: these scopes and allowlist take the place of the ones above at
    # pending_effective_at. All three null when nothing is pending.
    pending_scopes: fields.Field[list[str] | None] = fields.JSONField(null=True)
    pending_ip_allowlist: fields.Field[list[str] | None] = fields.JSONField(null=True)
    pending_effective_at = fields.DatetimeField(null=True)

    user_id: int
    sub_account_id: int | None

    class Meta:
        table = "api_keys"
        indexes = (
            ("user_id", "state", "id"),
            # Also idx_api_keys_live_user_id, (user_id, state, id) WHERE deleted_at IS NULL, made
            # by migration 0005 in SQL (a partial index is not expressible here): a user's
            # undeleted keys newest first, for apiKeys(unusedForDays:).
            # The expiry-notice sweep: unclaimed keys by expiry.
            ("expiry_notified_at", "expires_at"),
            # SubAccount.apiKeys and a sub-account's live-key count.
            ("sub_account_id", "state", "id"),
            # A reported secret's key, current or rolled away (secret scanning, report-leak).
            ("secret_lookup",),
            ("previous_secret_lookup",),
            # The cooling-off sweep: changes by the time they take effect.
            ("pending_effective_at",),
        )


# A pending second-factor confirmation of one operation on one key. ``purpose`` is
# CREATE_KEY, UPDATE_KEY, ROLL_KEY or RELEASE_KEY; ``payload`` holds what the confirmation
# applies (UPDATE_KEY: the validated new values; ROLL_KEY: the overlap and, for ED25519, the
# new public key; RELEASE_KEY: the quarantine it ends), never a secret. A challenge on no
# key (UNLOCK_SUB_ACCOUNT) names its target in ``payload``.
class KeyChallenge(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="challenges", on_delete=fields.CASCADE
    )
    api_key: fields.ForeignKeyNullableRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name="challenges", null=True, on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    attempts = fields.IntField(default=0)
    consumed_at = fields.DatetimeField(null=True)
    purpose = fields.CharField(max_length=32, db_default="CREATE_KEY")
    payload: fields.Field[dict[str, object] | None] = fields.JSONField(null=True)
    # UPDATE_KEY / ROLL_KEY: the key's revision when the challenge was opened.
    key_revision = fields.IntField(null=True)

    user_id: int
    api_key_id: int | None

    class Meta:
        table = "key_challenges"
