"""Queries on webhook endpoints and the notification outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.expressions import F

from gql_keys.models import NotificationDelivery, WebhookEndpoint

PENDING = "PENDING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
WEBHOOK = "webhook"
EMAIL = "email"


async def create_endpoint(
    user_id: int,
    url: str,
    events: list[str],
    description: str | None,
    secret_sealed: str,
    now: datetime,
) -> WebhookEndpoint:
    return await WebhookEndpoint.create(
        user_id=user_id,
        url=url,
        events=events,
        description=description,
        secret_sealed=secret_sealed,
        created_at=now,
    )


async def endpoints_of(user_id: int) -> list[WebhookEndpoint]:
    return await WebhookEndpoint.filter(user_id=user_id).order_by("id")


async def count_endpoints(user_id: int) -> int:
    return await WebhookEndpoint.filter(user_id=user_id).count()


async def endpoint_of(user_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    return await WebhookEndpoint.get_or_none(id=endpoint_id, user_id=user_id)


async def endpoints_by_ids(ids: Sequence[int]) -> dict[int, WebhookEndpoint]:
    if not ids:
        return {}
    return {row.id: row for row in await WebhookEndpoint.filter(id__in=list(ids))}


async def delete_endpoint(user_id: int, endpoint_id: int) -> bool:
    """Delete it and its deliveries (they cascade); whether it existed."""
    query = WebhookEndpoint.filter(id=endpoint_id, user_id=user_id)
    if not await query.exists():
        return False
    await NotificationDelivery.filter(endpoint_id=endpoint_id).delete()
    await query.delete()
    return True


async def enabled_endpoints_of(user_id: int) -> list[WebhookEndpoint]:
    return await WebhookEndpoint.filter(user_id=user_id, disabled_at=None).order_by("id")


async def disable_endpoint(endpoint_id: int, now: datetime) -> bool:
    """Mark it disabled; True for the one caller whose UPDATE did it."""
    updated = await WebhookEndpoint.filter(id=endpoint_id, disabled_at=None).update(disabled_at=now)
    return updated == 1


async def add_deliveries(rows: Sequence[NotificationDelivery]) -> None:
    """Insert the rows (each gets its id)."""
    for row in rows:
        await row.save()


async def any_due(now: datetime) -> bool:
    return await NotificationDelivery.filter(status=PENDING, next_attempt_at__lte=now).exists()


async def due_for_update(now: datetime, limit: int, locking: bool) -> list[NotificationDelivery]:
    """Due PENDING rows, oldest first; with ``locking`` (PostgreSQL, in a transaction)
    locked and skipping rows another worker holds."""
    query = (
        NotificationDelivery.filter(status=PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .limit(limit)
    )
    if locking:
        query = query.select_for_update(skip_locked=True)
    return await query


async def claim(row: NotificationDelivery, lease_until: datetime) -> bool:
    """Take ``row`` until ``lease_until``; False when another worker's claim came first."""
    updated = await NotificationDelivery.filter(
        id=row.id, status=PENDING, claims=row.claims
    ).update(claims=row.claims + 1, next_attempt_at=lease_until)
    if updated == 1:
        row.claims += 1
        row.next_attempt_at = lease_until
    return updated == 1


async def finish_attempt(
    row: NotificationDelivery,
    status: str,
    status_code: int | None,
    next_attempt_at: datetime | None,
) -> bool:
    """Record one attempt's outcome while this worker's claim still holds."""
    updated = await NotificationDelivery.filter(
        id=row.id, status=PENDING, claims=row.claims
    ).update(
        status=status,
        attempts=F("attempts") + 1,
        last_status_code=status_code,
        next_attempt_at=next_attempt_at,
    )
    return updated == 1


async def last_statuses(endpoint_id: int, limit: int) -> list[str]:
    """The statuses of the endpoint's latest ``limit`` deliveries, newest first."""
    rows = await (
        NotificationDelivery.filter(endpoint_id=endpoint_id)
        .order_by("-id")
        .limit(limit)
        .values_list("status", flat=True)
    )
    return [str(s) for s in rows]


async def page_deliveries(
    endpoint_id: int, limit: int, before_id: int | None
) -> list[NotificationDelivery]:
    query = NotificationDelivery.filter(endpoint_id=endpoint_id)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    return await query.order_by("-id").limit(limit)


async def count_deliveries(endpoint_id: int) -> int:
    return await NotificationDelivery.filter(endpoint_id=endpoint_id).count()


async def delivery_of(user_id: int, delivery_id: int) -> NotificationDelivery | None:
    return await NotificationDelivery.get_or_none(id=delivery_id, user_id=user_id)


async def deliveries_of(user_id: int) -> list[NotificationDelivery]:
    """Every delivery of the user, oldest first (tests and the command line)."""
    return await NotificationDelivery.filter(user_id=user_id).order_by("id")
