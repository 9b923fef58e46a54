"""Tortoise models and the repositories that hold every query."""

from gql_keys.models.accounts import RecoveryCode, ServiceToken, Session, User
from gql_keys.models.keys import ApiKey, KeyChallenge
from gql_keys.models.notifications import NotificationDelivery, WebhookEndpoint
from gql_keys.models.security import SecurityEvent
from gql_keys.models.servers import ServerHeartbeat
from gql_keys.models.sub_accounts import SubAccount
from gql_keys.models.throttle import ThrottleCounter
from gql_keys.models.usage import UsageLog, UsageRollup, UsageTotal

__all__ = [
    "ApiKey",
    "KeyChallenge",
    "NotificationDelivery",
    "RecoveryCode",
    "SecurityEvent",
    "ServerHeartbeat",
    "ServiceToken",
    "Session",
    "SubAccount",
    "ThrottleCounter",
    "UsageLog",
    "UsageRollup",
    "UsageTotal",
    "User",
    "WebhookEndpoint",
]
