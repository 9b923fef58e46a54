"""A user's webhook endpoints: created behind a challenge (CREATE_WEBHOOK: a new channel
out of the system), listed, tested and deleted; their deliveries paged.

The signing secret is made at confirmation, shown once, and stored sealed (AES-GCM under
the master key, like key secrets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gql_keys.broker.events import ActivityEvent, ActivityKind, new_event_id
from gql_keys.db import transaction
from gql_keys.domain_errors import DomainError, ErrorCode, InvalidInput
from gql_keys.global_ids import encode_global_id
from gql_keys.models import KeyChallenge, NotificationDelivery, WebhookEndpoint
from gql_keys.models.notifications import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH
from gql_keys.notifications import webhooks
from gql_keys.notifications.destinations import UnsafeDestination, check, parse_url
from gql_keys.notifications.events import TEST_TYPE, NotificationEvent
from gql_keys.repositories import keys as keys_repo
from gql_keys.repositories import notifications as repo
from gql_keys.repositories import users as users_repo
from gql_keys.runtime import Runtime
from gql_keys.services import outbox
from gql_keys.services.key_challenges import (
    Challenge,
    ChallengePurpose,
    check_open_challenges,
    judge_code,
    open_challenge,
    require_two_factor,
)
from gql_keys.services.security_events import ClientInfo


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    url: str
    events: list[NotificationEvent]
    description: str | None


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str = field(repr=False)  # shown once, never stored in the clear


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    rows: list[NotificationDelivery]
    has_next_page: bool
    total_count: int


def _secret_aad(user_id: int, url: str) -> bytes:
    return f"webhook-endpoint:{user_id}:{url}".encode()


def seal_secret(rt: Runtime, user_id: int, url: str, secret: str) -> str:
    return rt.secretbox.seal(secret.encode(), aad=_secret_aad(user_id, url))


def open_secret(rt: Runtime, endpoint: WebhookEndpoint) -> str:
    return rt.secretbox.open(
        endpoint.secret_sealed, aad=_secret_aad(endpoint.user_id, endpoint.url)
    ).decode()


def not_found(*field_path: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "No such webhook endpoint.", field_path)


async def _validated(rt: Runtime, request: NewEndpoint) -> dict[str, Any]:
    errors: list[DomainError] = []
    url = request.url.strip()
    if len(url) > MAX_URL_LENGTH:
        errors.append(_invalid(f"The URL must be at most {MAX_URL_LENGTH} characters.", "url"))
    else:
        allow_private = rt.settings.webhooks_may_reach_private
        try:
            parse_url(url, allow_private)
            if not allow_private:
                await check(url, allow_private)
        except UnsafeDestination as exc:
            errors.append(_invalid(str(exc), "url"))
    if not request.events:
        errors.append(_invalid("Subscribe to at least one event.", "events"))
    description = (request.description or "").strip() or None
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        errors.append(
            _invalid(
                f"The description must be at most {MAX_DESCRIPTION_LENGTH} characters.",
                "description",
            )
        )
    if errors:
        raise InvalidInput(errors)
    events = sorted({e.value for e in request.events})
    return {"url": url, "events": events, "description": description}


def _invalid(message: str, name: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_INPUT, message, ("input", name))


def _limit_reached(rt: Runtime) -> DomainError:
    most = rt.settings.max_webhook_endpoints
    return DomainError(ErrorCode.LIMIT_REACHED, f"An account can have at most {most} endpoints.")


async def create_endpoint(rt: Runtime, user_id: int, request: NewEndpoint) -> Challenge:
    """Check the request and open a CREATE_WEBHOOK challenge for it."""
    await require_two_factor(user_id, "add webhook endpoints")
    payload = await _validated(rt, request)
    if await repo.count_endpoints(user_id) >= rt.settings.max_webhook_endpoints:
        raise _limit_reached(rt)
    now = rt.clock.now()
    await check_open_challenges(rt, user_id, now)
    return await open_challenge(
        rt, user_id, None, ChallengePurpose.CREATE_WEBHOOK, now, payload=payload
    )


async def confirm_create(
    rt: Runtime, user_id: int, challenge: KeyChallenge, code: str, client: ClientInfo
) -> CreatedEndpoint:
    """Judge ``code`` for a CREATE_WEBHOOK challenge; on success create the endpoint."""
    payload = challenge.payload or {}
    failed = ActivityEvent(
        id=new_event_id(int(rt.clock.time() * 1_000_000_000)),
        kind=ActivityKind.TWO_FACTOR_FAILED,
        occurred_at=rt.clock.now(),
        owner_id=user_id,
    )
    await judge_code(rt, user_id, challenge, code, client, failed)
    now = rt.clock.now()
    secret = webhooks.new_secret()
    url = str(payload.get("url", ""))
    events = payload.get("events")
    description = payload.get("description")
    async with transaction(rt.settings):
        await users_repo.lock_user(user_id)
        consumed = await keys_repo.consume_challenge(
            challenge.id, now, rt.settings.challenge_max_attempts
        )
        if not consumed:
            raise DomainError(
                ErrorCode.CHALLENGE_EXPIRED,
                "This challenge was already used or has expired.",
                ("input", "challengeId"),
            )
        if await repo.count_endpoints(user_id) >= rt.settings.max_webhook_endpoints:
            raise _limit_reached(rt)
        row = await repo.create_endpoint(
            user_id,
            url,
            [str(e) for e in events] if isinstance(events, list) else [],
            description if isinstance(description, str) else None,
            seal_secret(rt, user_id, url, secret),
            now,
        )
    return CreatedEndpoint(endpoint=row, secret=secret)


async def list_endpoints(user_id: int) -> list[WebhookEndpoint]:
    return await repo.endpoints_of(user_id)


async def get_endpoint(user_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    return await repo.endpoint_of(user_id, endpoint_id)


async def delete_endpoint(rt: Runtime, user_id: int, endpoint_id: int) -> None:
    """At once: nothing more is sent to it (its pending deliveries go with it)."""
    async with transaction(rt.settings):
        if not await repo.delete_endpoint(user_id, endpoint_id):
            raise not_found("input", "id")


async def send_test(rt: Runtime, user_id: int, endpoint_id: int) -> NotificationDelivery:
    """Queue a ``test`` message to this endpoint alone."""
    endpoint = await repo.endpoint_of(user_id, endpoint_id)
    if endpoint is None:
        raise not_found("input", "id")
    now = rt.clock.now()
    data = {"endpointId": endpoint_id_of(endpoint), "description": endpoint.description}
    row = outbox.delivery(
        user_id, TEST_TYPE, outbox.body_of(TEST_TYPE, now, data), now, endpoint=endpoint
    )
    await repo.add_deliveries([row])
    return row


def endpoint_id_of(endpoint: WebhookEndpoint) -> str:
    return encode_global_id("WebhookEndpoint", endpoint.id)


async def page_deliveries(endpoint_id: int, limit: int, before_id: int | None) -> DeliveryPage:
    rows = await repo.page_deliveries(endpoint_id, limit + 1, before_id)
    total = await repo.count_deliveries(endpoint_id)
    return DeliveryPage(rows=rows[:limit], has_next_page=len(rows) > limit, total_count=total)


async def get_delivery(user_id: int, delivery_id: int) -> NotificationDelivery | None:
    return await repo.delivery_of(user_id, delivery_id)
