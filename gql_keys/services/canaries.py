"""Telling a canary key's owner that it was used: a ``CANARY_TRIPPED`` security event and
activity event, with the caller's address.

Every use is a usage-log row (``CANARY_TRIPPED``) like any decision; the owner's alert is
raised once per canary and client address (an IPv6 /64 counting as one) per
:data:`ALERT_WINDOW_SECONDS`, on every worker together (the rate limiter is shared with
Redis), so a thief hammering a planted key writes one security-log line a minute, not
sixty. It runs after the request's answer, as background work: the answer to a canary
takes as long as an unknown key's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from gql_keys.broker.events import ActivityEvent, ActivityKind, new_event_id
from gql_keys.db import transaction
from gql_keys.runtime import Runtime
from gql_keys.security.addresses import throttle_address
from gql_keys.services.security_events import ClientInfo, SecurityEventKind, record

ALERT_WINDOW_SECONDS = 60
CODE = "CANARY_TRIPPED"


class Canary(Protocol):
    """The canary that was used (a key record or an ApiKey row)."""

    @property
    def id(self) -> int: ...
    @property
    def user_id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def sub_account_id(self) -> int | None: ...


def tripped_later(
    rt: Runtime, canary: Canary, client_ip: str, method: str, path: str, now: float
) -> None:
    """Raise the alert for one use of ``canary`` in the background."""
    rt.background.spawn(tripped(rt, canary, client_ip, method, path, now), name="canary-tripped")


async def tripped(
    rt: Runtime,
    canary: Canary,
    client_ip: str | None,
    method: str | None,
    path: str | None,
    now: float,
) -> bool:
    """Record and publish the alert unless this canary and address had one in the window;
    whether it did. ``client_ip`` None: reported from this machine (the command line)."""
    where = throttle_address(client_ip, rt.settings.throttle_ipv6_prefix) if client_ip else "-"
    first = await rt.rate_limiter.hit(f"canary:{canary.id}:{where}", 1, ALERT_WINDOW_SECONDS, now)
    if not first.allowed:
        return False
    async with transaction(rt.settings):  # the event and its notifications, or neither
        await record(
            rt,
            canary.user_id,
            SecurityEventKind.CANARY_TRIPPED,
            ClientInfo(client_ip) if client_ip else None,
            api_key=canary,
        )
    await rt.broker.publish(
        [
            ActivityEvent(
                id=new_event_id(int(now * 1_000_000_000)),
                kind=ActivityKind.CANARY_TRIPPED,
                occurred_at=datetime.fromtimestamp(now, UTC),
                owner_id=canary.user_id,
                api_key_id=canary.id,
                key=canary.key,
                code=CODE,
                client_ip=client_ip,
                method=method.upper()[:16] if method is not None else None,
                path=path[:512] if path is not None else None,
            )
        ]
    )
    return True
