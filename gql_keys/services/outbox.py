"""The notification outbox: one delivery row per subscribed endpoint (and one e-mail to
the account for the events that mail), written inside the transaction of the change it
reports, so a crash never loses a notification nor sends one for a change that did not
happen. Workers deliver the rows afterwards (``services.deliveries``).

``data`` names the key (global ``id``, ``key``, ``label``, ``subAccountId``) or the
account, and the address involved; never a secret.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from gql_keys.global_ids import encode_global_id
from gql_keys.models import NotificationDelivery, WebhookEndpoint
from gql_keys.notifications.events import MAILED, WEBHOOK_TYPES, NotificationEvent
from gql_keys.repositories import notifications as repo
from gql_keys.repositories import users as users_repo
from gql_keys.runtime import Runtime

MESSAGE_ID_PREFIX = "msg_"
NEW_SIGN_IN_WINDOW = timedelta(days=30)


class NotifiedKey(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def sub_account_id(self) -> int | None: ...


def key_data(row: NotifiedKey, address: str | None) -> dict[str, object]:
    sub = row.sub_account_id
    return {
        "id": encode_global_id("ApiKey", row.id),
        "key": row.key,
        "label": row.label,
        "subAccountId": encode_global_id("SubAccount", sub) if sub is not None else None,
        "address": address,
    }


def account_data(user_id: int, email: str | None, address: str | None) -> dict[str, object]:
    return {"accountId": encode_global_id("User", user_id), "email": email, "address": address}


def stamp(at: datetime) -> str:
    """RFC 3339 in UTC, as every timestamp in a payload."""
    return at.isoformat().replace("+00:00", "Z")


def body_of(type_: str, at: datetime, data: Mapping[str, object]) -> str:
    """The Standard Webhooks payload, as sent on every attempt."""
    return json.dumps({"type": type_, "timestamp": stamp(at), "data": dict(data)}, sort_keys=True)


def new_message_id() -> str:
    return MESSAGE_ID_PREFIX + secrets.token_urlsafe(18)


def delivery(
    user_id: int,
    type_: str,
    body: str,
    now: datetime,
    *,
    endpoint: WebhookEndpoint | None = None,
    recipient: str | None = None,
) -> NotificationDelivery:
    return NotificationDelivery(
        user_id=user_id,
        endpoint_id=endpoint.id if endpoint is not None else None,
        channel=repo.WEBHOOK if endpoint is not None else repo.EMAIL,
        recipient=recipient,
        message_id=new_message_id(),
        type=type_,
        body=body,
        created_at=now,
        status=repo.PENDING,
        next_attempt_at=now,
    )


async def enqueue(
    rt: Runtime, user_id: int, event: NotificationEvent, data: Mapping[str, object]
) -> int:
    """Inside the change's transaction: the deliveries of ``event``; how many."""
    now = rt.clock.now()
    type_ = WEBHOOK_TYPES[event]
    body = body_of(type_, now, data)
    rows = [
        delivery(user_id, type_, body, now, endpoint=endpoint)
        for endpoint in await repo.enabled_endpoints_of(user_id)
        if event.value in endpoint.events
    ]
    if event in MAILED:
        user = await users_repo.get_user(user_id)
        if user is not None:
            rows.append(delivery(user_id, type_, body, now, recipient=user.email))
    await repo.add_deliveries(rows)
    return len(rows)


async def mail_owner(rt: Runtime, user_id: int, type_: str, data: Mapping[str, object]) -> None:
    """Inside a transaction: one e-mail to the account's address (no webhook)."""
    user = await users_repo.get_user(user_id)
    if user is None:
        return
    now = rt.clock.now()
    body = body_of(type_, now, data)
    await repo.add_deliveries([delivery(user_id, type_, body, now, recipient=user.email)])
