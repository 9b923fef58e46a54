"""The account security log: what happened to an account, from where, newest first.

Each event is written inside the transaction of the change it records (a login's
session, a password change, a key's activation), so the log never tells of a change
that did not happen nor misses one that did. Rows are append-only: only retention
(``security_event_retention_days``) removes them, never ``logs prune``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from gql_keys.models import SecurityEvent
from gql_keys.models.accounts import MAX_USER_AGENT_LENGTH
from gql_keys.notifications.events import NotificationEvent
from gql_keys.repositories import security_events as repo
from gql_keys.repositories import users as users_repo
from gql_keys.runtime import Runtime
from gql_keys.services import outbox
from gql_keys.services.pruning import prune_in_batches


class SecurityEventKind(StrEnum):
    LOGIN_SUCCEEDED = "LOGIN_SUCCEEDED"
    LOGIN_FAILED = "LOGIN_FAILED"
    LOGOUT = "LOGOUT"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"
    SESSION_REVOKED = "SESSION_REVOKED"
    TWO_FACTOR_ENABLED = "TWO_FACTOR_ENABLED"
    TWO_FACTOR_DISABLED = "TWO_FACTOR_DISABLED"
    TWO_FACTOR_FAILED = "TWO_FACTOR_FAILED"
    RECOVERY_CODE_USED = "RECOVERY_CODE_USED"
    RECOVERY_CODES_REGENERATED = "RECOVERY_CODES_REGENERATED"
    KEY_CREATED = "KEY_CREATED"
    KEY_UPDATED = "KEY_UPDATED"
    KEY_ROLLED = "KEY_ROLLED"
    KEY_DELETED = "KEY_DELETED"
    SUB_ACCOUNT_CREATED = "SUB_ACCOUNT_CREATED"
    SUB_ACCOUNT_LOCKED = "SUB_ACCOUNT_LOCKED"
    SUB_ACCOUNT_UNLOCKED = "SUB_ACCOUNT_UNLOCKED"
    SUB_ACCOUNT_DELETED = "SUB_ACCOUNT_DELETED"
    KEY_QUARANTINED = "KEY_QUARANTINED"
    KEY_RELEASED = "KEY_RELEASED"
    CANARY_TRIPPED = "CANARY_TRIPPED"
    KEY_CHANGE_PENDING = "KEY_CHANGE_PENDING"
    KEY_CHANGE_CANCELLED = "KEY_CHANGE_CANCELLED"


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from: the client address and its (bounded) user agent."""

    ip: str
    user_agent: str | None = None

    @classmethod
    def of(cls, ip: str, user_agent: str | None) -> ClientInfo:
        agent = (user_agent or "").strip()[:MAX_USER_AGENT_LENGTH]
        return cls(ip=ip, user_agent=agent or None)


@dataclass(frozen=True, slots=True)
class EventPage:
    rows: list[SecurityEvent]
    has_next_page: bool
    total_count: int


class NamedKey(Protocol):
    """A key as an event names it: an ApiKey row, or a cached key record."""

    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def sub_account_id(self) -> int | None: ...


# The security events that are also notifications (webhooks, e-mail); a LOGIN_SUCCEEDED
# is one (NEW_SIGN_IN) only from an address new to the account (see _new_sign_in).
NOTIFIED: dict[SecurityEventKind, NotificationEvent] = {
    SecurityEventKind.KEY_CREATED: NotificationEvent.KEY_CREATED,
    SecurityEventKind.KEY_UPDATED: NotificationEvent.KEY_UPDATED,
    SecurityEventKind.KEY_ROLLED: NotificationEvent.KEY_ROLLED,
    SecurityEventKind.KEY_DELETED: NotificationEvent.KEY_DELETED,
    SecurityEventKind.KEY_QUARANTINED: NotificationEvent.KEY_QUARANTINED,
    SecurityEventKind.CANARY_TRIPPED: NotificationEvent.CANARY_TRIPPED,
    SecurityEventKind.KEY_CHANGE_PENDING: NotificationEvent.KEY_CHANGE_PENDING,
    SecurityEventKind.PASSWORD_CHANGED: NotificationEvent.PASSWORD_CHANGED,
    SecurityEventKind.TWO_FACTOR_DISABLED: NotificationEvent.TWO_FACTOR_DISABLED,
}


async def record(
    rt: Runtime,
    user_id: int,
    kind: SecurityEventKind,
    client: ClientInfo | None,
    *,
    api_key: NamedKey | None = None,
    sub_account_id: int | None = None,
) -> None:
    """Append one event, and the notifications it makes (see ``services.outbox``); call
    inside the transaction of the change it records. A key event keeps the key's label as
    it stands now (after the change it records). ``client`` None: the server did it by
    itself (a cooled-off change taking effect)."""
    ip, agent = (client.ip, client.user_agent) if client is not None else (None, None)
    event = NOTIFIED.get(kind)
    if (
        kind is SecurityEventKind.LOGIN_SUCCEEDED
        and ip is not None
        and await _new_sign_in(rt, user_id, ip)
    ):
        event = NotificationEvent.NEW_SIGN_IN
    await repo.append(
        user_id,
        kind.value,
        rt.clock.now(),
        ip,
        agent,
        api_key.id if api_key is not None else None,
        api_key.label if api_key is not None else None,
        sub_account_id=sub_account_id,
    )
    if event is None:
        return
    if api_key is not None:
        data = {**outbox.key_data(api_key, ip), **_key_details(kind, api_key)}
    else:
        user = await users_repo.get_user(user_id)
        data = outbox.account_data(user_id, user.email if user is not None else None, ip)
        data["userAgent"] = agent
    await outbox.enqueue(rt, user_id, event, data)


def _key_details(kind: SecurityEventKind, api_key: NamedKey) -> dict[str, object]:
    """What some key notifications add: why a key was quarantined; when a change cooling
    off takes effect and the scopes it grants (read from an ApiKey row when there is one)."""
    if kind is SecurityEventKind.KEY_QUARANTINED:
        return {"reason": getattr(api_key, "quarantine_reason", None)}
    if kind is SecurityEventKind.KEY_CHANGE_PENDING:
        at = getattr(api_key, "pending_effective_at", None)
        return {
            "effectiveAt": outbox.stamp(at) if isinstance(at, datetime) else None,
            "scopes": list(getattr(api_key, "pending_scopes", None) or []),
        }
    return {}


async def _new_sign_in(rt: Runtime, user_id: int, ip: str) -> bool:
    """A sign-in from an address not seen on the account in 30 days; an account's first
    sign-in ever is not one (nothing to compare with). The default retention (400 days)
    keeps the 30 days of sign-ins this looks at."""
    kind = SecurityEventKind.LOGIN_SUCCEEDED.value
    if not await repo.has_kind(user_id, kind):
        return False
    since = rt.clock.now() - outbox.NEW_SIGN_IN_WINDOW
    return not await repo.seen_from_since(user_id, kind, ip, since)


async def page_events(user_id: int, limit: int, after: tuple[datetime, int] | None) -> EventPage:
    rows = await repo.page_for_user(user_id, limit + 1, after)
    total = await repo.count_for_user(user_id)
    return EventPage(rows=rows[:limit], has_next_page=len(rows) > limit, total_count=total)


async def get_event(user_id: int, pk: int) -> SecurityEvent | None:
    """One of the user's events; None for anyone else's."""
    return await repo.get_for_user(user_id, pk)


async def prune_events(
    now: datetime,
    retention: timedelta,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Delete events older than ``retention``, batch by batch; returns the count."""
    cutoff = now - retention
    return await prune_in_batches(
        cutoff, repo.count_older_than, repo.delete_batch_older_than, batch_size, progress
    )
