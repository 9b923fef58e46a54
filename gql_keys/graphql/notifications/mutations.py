"""Webhook endpoint mutations: thin translations to the webhook endpoints service."""

from __future__ import annotations

import strawberry

from gql_keys.domain_errors import DomainError, InvalidInput
from gql_keys.global_ids import encode_global_id
from gql_keys.graphql.context import Info
from gql_keys.graphql.keys.types import TwoFactorChallenge
from gql_keys.graphql.node import require_int_id
from gql_keys.graphql.notifications.types import WebhookDeliveryType
from gql_keys.graphql.permissions import require_user
from gql_keys.graphql.user_errors import UserError, user_errors
from gql_keys.notifications.events import NotificationEvent
from gql_keys.services import webhook_endpoints as service

NOT_FOUND = "No such webhook endpoint."


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="Where to POST; in production https to a public address only."
    )
    events: list[NotificationEvent]
    description: str | None = strawberry.field(default=None, description="At most 200 characters.")


@strawberry.type
class CreateWebhookEndpointPayload:
    challenge: TwoFactorChallenge | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DeleteWebhookEndpointInput:
    id: strawberry.ID


@strawberry.type
class DeleteWebhookEndpointPayload:
    deleted_webhook_endpoint_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SendTestWebhookInput:
    id: strawberry.ID


@strawberry.type
class SendTestWebhookPayload:
    delivery: WebhookDeliveryType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Check the endpoint and return a challenge (CREATE_WEBHOOK); "
        "verifyTwoFactor then creates it and returns its signing secret, once."
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointPayload:
        principal = require_user(info)
        request = service.NewEndpoint(
            url=input.url, events=list(input.events), description=input.description
        )
        try:
            challenge = await service.create_endpoint(info.context.rt, principal.user_id, request)
        except (DomainError, InvalidInput) as exc:
            return CreateWebhookEndpointPayload(user_errors=user_errors(exc))
        return CreateWebhookEndpointPayload(challenge=TwoFactorChallenge.from_challenge(challenge))

    @strawberry.mutation(description="Delete an endpoint at once; nothing more is sent to it.")
    async def delete_webhook_endpoint(
        self, info: Info, input: DeleteWebhookEndpointInput
    ) -> DeleteWebhookEndpointPayload:
        principal = require_user(info)
        try:
            pk = require_int_id(input.id, "WebhookEndpoint", NOT_FOUND)
            await service.delete_endpoint(info.context.rt, principal.user_id, pk)
        except DomainError as exc:
            return DeleteWebhookEndpointPayload(user_errors=user_errors(exc))
        return DeleteWebhookEndpointPayload(
            deleted_webhook_endpoint_id=strawberry.ID(encode_global_id("WebhookEndpoint", pk))
        )

    @strawberry.mutation(description="Queue a message of type test to this endpoint.")
    async def send_test_webhook(
        self, info: Info, input: SendTestWebhookInput
    ) -> SendTestWebhookPayload:
        principal = require_user(info)
        try:
            pk = require_int_id(input.id, "WebhookEndpoint", NOT_FOUND)
            row = await service.send_test(info.context.rt, principal.user_id, pk)
        except DomainError as exc:
            return SendTestWebhookPayload(user_errors=user_errors(exc))
        return SendTestWebhookPayload(delivery=WebhookDeliveryType.from_row(row))
