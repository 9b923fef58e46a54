"""What can be notified, its Standard Webhooks ``type`` string, and which events mail."""

from __future__ import annotations

from enum import StrEnum


class NotificationEvent(StrEnum):
    KEY_CREATED = "KEY_CREATED"
    KEY_UPDATED = "KEY_UPDATED"
    KEY_ROLLED = "KEY_ROLLED"
    KEY_DELETED = "KEY_DELETED"
    KEY_EXPIRING = "KEY_EXPIRING"
    KEY_QUARANTINED = "KEY_QUARANTINED"
    CANARY_TRIPPED = "CANARY_TRIPPED"
    KEY_CHANGE_PENDING = "KEY_CHANGE_PENDING"
    NEW_SIGN_IN = "NEW_SIGN_IN"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"
    TWO_FACTOR_DISABLED = "TWO_FACTOR_DISABLED"


WEBHOOK_TYPES: dict[NotificationEvent, str] = {
    NotificationEvent.KEY_CREATED: "key.created",
    NotificationEvent.KEY_UPDATED: "key.updated",
    NotificationEvent.KEY_ROLLED: "key.rolled",
    NotificationEvent.KEY_DELETED: "key.deleted",
    NotificationEvent.KEY_EXPIRING: "key.expiring",
    NotificationEvent.KEY_QUARANTINED: "key.quarantined",
    NotificationEvent.CANARY_TRIPPED: "key.canary_tripped",
    NotificationEvent.KEY_CHANGE_PENDING: "key.change_pending",
    NotificationEvent.NEW_SIGN_IN: "account.new_sign_in",
    NotificationEvent.PASSWORD_CHANGED: "account.password_changed",
    NotificationEvent.TWO_FACTOR_DISABLED: "account.two_factor_disabled",
}

TEST_TYPE = "test"
# The owner's mail when an endpoint is disabled after failing over and over.
ENDPOINT_DISABLED_TYPE = "endpoint.disabled"

# Events mailed to the account's address as well (every other one: webhooks only).
MAILED: frozenset[NotificationEvent] = frozenset(
    {
        NotificationEvent.NEW_SIGN_IN,
        NotificationEvent.KEY_CREATED,
        NotificationEvent.KEY_ROLLED,
        NotificationEvent.KEY_QUARANTINED,
        NotificationEvent.CANARY_TRIPPED,
        NotificationEvent.KEY_CHANGE_PENDING,
        NotificationEvent.KEY_EXPIRING,
        NotificationEvent.PASSWORD_CHANGED,
        NotificationEvent.TWO_FACTOR_DISABLED,
    }
)
