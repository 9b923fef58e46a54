"""Notifications: a user's webhook endpoints and the outbox of deliveries to them (and to
the user's e-mail address).

A delivery row is written in the transaction of the change it reports; workers claim due
rows, send them and record the outcome (see ``services.deliveries``).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from gql_keys.models.accounts import User

MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 200
MAX_EMAIL_LENGTH = 320


class WebhookEndpoint(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="webhook_endpoints", on_delete=fields.CASCADE
    )
    url = fields.CharField(max_length=MAX_URL_LENGTH)
    # NotificationEvent names the endpoint is subscribed to.
    events: fields.Field[list[str]] = fields.JSONField(default=list)
    description = fields.CharField(max_length=MAX_DESCRIPTION_LENGTH, null=True)
    # The signing secret ("whsec_…"), sealed with AES-GCM like key secrets.
    secret_sealed = fields.CharField(max_length=255)
    created_at = fields.DatetimeField()
    disabled_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "webhook_endpoints"
        indexes = (("user_id", "id"),)


class NotificationDelivery(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="notification_deliveries", on_delete=fields.CASCADE
    )
    # Null for e-mail; a deleted endpoint takes its deliveries with it.
    endpoint: fields.ForeignKeyNullableRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint",
        related_name="deliveries",
        null=True,
        on_delete=fields.CASCADE,
    )
    channel = fields.CharField(max_length=8)  # "webhook" | "email"
    recipient = fields.CharField(max_length=MAX_EMAIL_LENGTH, null=True)  # e-mail only
    # The Standard Webhooks ``webhook-id``: the same on every attempt.
    message_id = fields.CharField(max_length=40, unique=True)
    type = fields.CharField(max_length=40)
    # The JSON body exactly as sent ({"type", "timestamp", "data"}); never a secret.
    body = fields.TextField()
    created_at = fields.DatetimeField()
    status = fields.CharField(max_length=12, default="PENDING")
    attempts = fields.IntField(default=0)
    # Bumped by every claim: a worker records its outcome only while its claim holds.
    claims = fields.IntField(default=0)
    last_status_code = fields.IntField(null=True)
    # PENDING: when it is next due (a claim pushes it out by the lease); null once final.
    next_attempt_at = fields.DatetimeField(null=True)

    user_id: int
    endpoint_id: int | None

    class Meta:
        table = "notification_deliveries"
        indexes = (
            # Workers: the due rows.
            ("status", "next_attempt_at"),
            # WebhookEndpoint.deliveries newest first, and the last-N-failed check.
            ("endpoint_id", "id"),
        )
