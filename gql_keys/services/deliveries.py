"""Delivering the outbox: claim due rows, send them, record the outcome.

Several workers share the outbox. A worker claims a batch inside one transaction (on
PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED``, so workers take different rows; on SQLite
the single writer serialises them) and each claim is a compare-and-set on the row's claim
counter that also pushes ``next_attempt_at`` out by a lease. A worker that dies after
claiming leaves the row to come due again when the lease ends: it is sent again with the
same ``webhook-id`` (at least once). A late worker whose lease was taken over records
nothing. ``stop()`` ends the loop between batches; a send in flight finishes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

import httpx

from gql_keys.db import transaction
from gql_keys.global_ids import encode_global_id
from gql_keys.models import NotificationDelivery, WebhookEndpoint
from gql_keys.notifications import webhooks
from gql_keys.notifications.events import ENDPOINT_DISABLED_TYPE, TEST_TYPE
from gql_keys.notifications.webhooks import Outcome
from gql_keys.repositories import notifications as repo
from gql_keys.runtime import Runtime
from gql_keys.services import outbox
from gql_keys.services.webhook_endpoints import open_secret

log = logging.getLogger("gql_keys.notifications")

# (type, data, to): raises on failure.
SendMail = Callable[[str, Mapping[str, object], str], Awaitable[None]]


class DeliveryWorker:
    def __init__(
        self, rt: Runtime, send_mail: SendMail, client: httpx.AsyncClient | None = None
    ) -> None:
        self._rt = rt
        self._send_mail = send_mail
        self._client = client or webhooks.client()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """End :meth:`run` after the batch in hand (never mid-send)."""
        self._stopping.set()

    async def run(self) -> None:
        poll = self._rt.settings.notification_poll_seconds
        try:
            while not self._stopping.is_set():
                try:
                    delivered = await self.deliver_due()
                except Exception:
                    log.exception("delivering notifications failed; retrying")
                    delivered = 0
                if delivered == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), poll)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def deliver_due(self) -> int:
        """Claim one batch of due deliveries and send them; how many were claimed."""
        claimed = await self.claim()
        if claimed:
            await asyncio.gather(*(self._deliver(row) for row in claimed))
        return len(claimed)

    async def claim(self) -> list[NotificationDelivery]:
        settings = self._rt.settings
        now = self._rt.clock.now()
        lease_until = now + timedelta(seconds=settings.notification_claim_lease_seconds)
        claimed: list[NotificationDelivery] = []
        if not await repo.any_due(now):
            return claimed  # an idle poll writes nothing (SQLite has one writer)
        async with transaction(settings):
            due = await repo.due_for_update(
                now, settings.notification_batch_size, locking=not settings.is_sqlite
            )
            for row in due:
                if await repo.claim(row, lease_until):
                    claimed.append(row)
        return claimed

    async def _deliver(self, row: NotificationDelivery) -> None:
        endpoint: WebhookEndpoint | None = None
        if row.channel == repo.WEBHOOK:
            endpoint = (await repo.endpoints_by_ids([row.endpoint_id or 0])).get(
                row.endpoint_id or 0
            )
            if endpoint is None:
                return  # deleted with its deliveries
            outcome = await self._send_webhook(row, endpoint)
        else:
            outcome = await self._mail(row)
        await self._record(row, outcome, endpoint)

    async def _send_webhook(self, row: NotificationDelivery, endpoint: WebhookEndpoint) -> Outcome:
        if endpoint.disabled_at is not None and row.type != TEST_TYPE:
            return Outcome(False, None, "endpoint disabled")
        settings = self._rt.settings
        return await webhooks.send(
            self._client,
            endpoint.url,
            open_secret(self._rt, endpoint),
            row.message_id,
            row.body,
            self._rt.clock.now(),
            allow_private=settings.webhooks_may_reach_private,
            time_limit=settings.webhook_timeout_seconds,
        )

    async def _mail(self, row: NotificationDelivery) -> Outcome:
        data = json.loads(row.body).get("data", {})
        try:
            await self._send_mail(row.type, data, row.recipient or "")
        except Exception as exc:
            return Outcome(False, None, type(exc).__name__)
        return Outcome(True, None, "sent")

    async def _record(
        self, row: NotificationDelivery, outcome: Outcome, endpoint: WebhookEndpoint | None
    ) -> None:
        settings = self._rt.settings
        schedule = settings.webhook_retry_schedule
        attempts = row.attempts + 1
        now = self._rt.clock.now()
        final = endpoint is not None and endpoint.disabled_at is not None
        if outcome.succeeded:
            status, next_at = repo.SUCCEEDED, None
        elif attempts > len(schedule) or final:
            status, next_at = repo.FAILED, None
        else:
            status, next_at = repo.PENDING, now + timedelta(seconds=schedule[attempts - 1])
        if not outcome.succeeded:
            log.info(
                "notification %s (%s, attempt %d) not delivered: %s",
                row.message_id,
                row.type,
                attempts,
                outcome.reason,
            )
        if not await repo.finish_attempt(row, status, outcome.status_code, next_at):
            return  # the lease ran out and another worker took the row over
        if status == repo.FAILED and endpoint is not None:
            await self._disable_if_failing(endpoint)

    async def _disable_if_failing(self, endpoint: WebhookEndpoint) -> None:
        """Disable an endpoint whose last N deliveries all failed, and mail its owner.
        Runs after the failure committed: of several failures finishing at once, the last
        to commit sees them all (and the conditional UPDATE lets one caller disable)."""
        limit = self._rt.settings.webhook_disable_after_failures
        statuses = await repo.last_statuses(endpoint.id, limit)
        if len(statuses) < limit or any(s != repo.FAILED for s in statuses):
            return
        async with transaction(self._rt.settings):
            if not await repo.disable_endpoint(endpoint.id, self._rt.clock.now()):
                return
            log.warning(
                "webhook endpoint %d disabled after %d failed deliveries", endpoint.id, limit
            )
            data = {
                "endpointId": encode_global_id("WebhookEndpoint", endpoint.id),
                "url": endpoint.url,
                "description": endpoint.description,
                "failures": limit,
            }
            await outbox.mail_owner(self._rt, endpoint.user_id, ENDPOINT_DISABLED_TYPE, data)
