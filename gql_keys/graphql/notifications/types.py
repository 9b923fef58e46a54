"""``WebhookEndpoint`` and ``WebhookDelivery``; the sealed secret stays out."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import strawberry

from gql_keys.global_ids import encode_global_id
from gql_keys.graphql.node import Node
from gql_keys.graphql.pagination import (
    Connection,
    connection,
    decode_id_cursor,
    encode_cursor,
    page_size,
)
from gql_keys.models import NotificationDelivery, WebhookEndpoint
from gql_keys.notifications.events import NotificationEvent
from gql_keys.services import webhook_endpoints as service

strawberry.enum(
    NotificationEvent,
    name="NotificationEvent",
    description="What a webhook endpoint can subscribe to (its type string: key.created, …).",
)


@strawberry.enum(name="DeliveryStatus")
class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@strawberry.type(name="WebhookDelivery", description="One message to an endpoint, and its fate.")
class WebhookDeliveryType(Node):
    type: str = strawberry.field(description="key.created, …, or test.")
    created_at: datetime
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None = strawberry.field(
        description="The HTTP status of the last answer; null when there was none."
    )
    next_attempt_at: datetime | None = strawberry.field(
        description="When a PENDING delivery is tried (again); null once it is final."
    )

    @classmethod
    def from_row(cls, row: NotificationDelivery) -> WebhookDeliveryType:
        return cls(
            id=strawberry.ID(encode_global_id("WebhookDelivery", row.id)),
            type=row.type,
            created_at=row.created_at,
            status=DeliveryStatus(row.status),
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            next_attempt_at=row.next_attempt_at,
        )


@strawberry.type(name="WebhookEndpoint")
class WebhookEndpointType(Node):
    url: str
    events: list[NotificationEvent]
    description: str | None
    created_at: datetime
    disabled: bool = strawberry.field(
        description="True after its last 20 deliveries all failed: nothing more is sent."
    )
    row: strawberry.Private[WebhookEndpoint]

    @strawberry.field(description="Its deliveries, newest first.")
    async def deliveries(
        self, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookDeliveryType]:
        page = await service.page_deliveries(self.row.id, page_size(first), decode_id_cursor(after))
        return connection(
            [WebhookDeliveryType.from_row(row) for row in page.rows],
            [encode_cursor([row.id]) for row in page.rows],
            page.has_next_page,
            page.total_count,
        )

    @classmethod
    def from_row(cls, row: WebhookEndpoint) -> WebhookEndpointType:
        return cls(
            id=strawberry.ID(encode_global_id("WebhookEndpoint", row.id)),
            url=row.url,
            events=[NotificationEvent(e) for e in row.events if e in NotificationEvent.__members__],
            description=row.description,
            created_at=row.created_at,
            disabled=row.disabled_at is not None,
            row=row,
        )
