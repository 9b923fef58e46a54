"""``KEY_EXPIRING``: once per key, by one worker, when the key enters its last days.

Every worker sweeps periodically (:func:`run`). A key is announced only by the worker
whose conditional ``UPDATE ... SET expiry_notified_at = now WHERE expiry_notified_at IS
NULL`` changed the row: the database decides, so two workers racing, or a worker
restarted, never announce a key twice. The claim commits with the key's notifications
(webhooks, e-mail: the outbox delivers them at least once) before the live event is
published; a worker dying between the two loses that one live event, never the outbox's.
Moving a key's expiry out of the window clears the mark (see ``key_changes``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from gql_keys.broker.events import ActivityEvent, ActivityKind
from gql_keys.db import transaction
from gql_keys.notifications.events import NotificationEvent
from gql_keys.repositories import keys as repo
from gql_keys.runtime import Runtime
from gql_keys.services import outbox
from gql_keys.services.key_challenges import key_event

log = logging.getLogger("gql_keys.expiry")

SWEEP_BATCH = 500


async def notify_expiring(rt: Runtime) -> int:
    """Claim and announce every key that entered its notice window; how many this call did."""
    now = rt.clock.now()
    horizon = now + timedelta(days=rt.settings.expiry_notice_days)
    announced = 0
    while True:
        candidates = await repo.unnotified_expiring_keys(now, horizon, SWEEP_BATCH)
        events: list[ActivityEvent] = []
        for row in candidates:
            async with transaction(rt.settings):
                if not await repo.claim_expiry_notice(row.id, now):
                    continue
                data = {**outbox.key_data(row, None), "expiresAt": _stamp(row.expires_at)}
                await outbox.enqueue(rt, row.user_id, NotificationEvent.KEY_EXPIRING, data)
            events.append(key_event(rt, ActivityKind.KEY_EXPIRING, row))
        if events:
            await rt.broker.publish(events)
        announced += len(events)
        if len(candidates) < SWEEP_BATCH:
            return announced


def _stamp(at: datetime | None) -> str | None:
    return outbox.stamp(at) if at is not None else None


async def run(rt: Runtime) -> None:
    """Sweep every ``expiry_notice_interval_seconds`` until cancelled."""
    interval = rt.settings.expiry_notice_interval_seconds
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await notify_expiring(rt)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("expiry-notice sweep failed; retrying at the next interval")
