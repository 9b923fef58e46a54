"""``webhookEndpoints``, and ``node`` for endpoints and deliveries."""

from __future__ import annotations

import strawberry

from gql_keys.graphql.context import Info
from gql_keys.graphql.node import int_pk
from gql_keys.graphql.notifications.types import WebhookDeliveryType, WebhookEndpointType
from gql_keys.graphql.permissions import require_user
from gql_keys.principals import UserPrincipal
from gql_keys.services import webhook_endpoints as service


@strawberry.type
class Query:
    @strawberry.field(description="The viewer's webhook endpoints, oldest first.")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpointType]:
        principal = require_user(info)
        rows = await service.list_endpoints(principal.user_id)
        return [WebhookEndpointType.from_row(row) for row in rows]


async def load_webhook_endpoint_node(info: Info, pk: str) -> WebhookEndpointType | None:
    number, principal = int_pk(pk), info.context.principal
    if number is None or not isinstance(principal, UserPrincipal):
        return None
    row = await service.get_endpoint(principal.user_id, number)
    return WebhookEndpointType.from_row(row) if row is not None else None


async def load_webhook_delivery_node(info: Info, pk: str) -> WebhookDeliveryType | None:
    number, principal = int_pk(pk), info.context.principal
    if number is None or not isinstance(principal, UserPrincipal):
        return None
    row = await service.get_delivery(principal.user_id, number)
    if row is None or row.endpoint_id is None:
        return None
    return WebhookDeliveryType.from_row(row)
