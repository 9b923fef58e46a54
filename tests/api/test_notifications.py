"""Webhooks: endpoints behind a challenge, Standard Webhooks signatures, retries with the
same id, subscriptions, disabling, and what never leaves (secrets, response bodies).

A real HTTP receiver on loopback; the delivery worker is driven by hand so every step is
observable. SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest
from starlette.applications import Starlette

from gql_keys.runtime import Runtime
from gql_keys.services import expiry_notices
from gql_keys.settings import Settings
from harness.accounts import login_token, next_code, signed_up_user
from harness.graphql import gql
from harness.webhook_receiver import WebhookReceiver
from tests.api.notifications_support import (
    DELETE_ENDPOINT,
    SEND_TEST,
    MailBag,
    ask_endpoint,
    deliver_all,
    deliveries,
    endpoints,
    new_endpoint,
    verified,
    worker,
)
from tests.api.test_keys import DELETE, new_key


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Delivered by hand in these tests; retries one second apart (the clock is moved on).
    return settings.with_overrides(
        notification_delivery=False,
        webhook_retry_schedule=(1.0, 1.0),
        webhook_disable_after_failures=3,
        max_webhook_endpoints=2,
    )


@pytest.fixture
def receiver() -> object:
    with WebhookReceiver() as r:
        yield r


async def test_a_new_key_is_posted_as_key_created_signed_so_standardwebhooks_verifies_it(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    user = await signed_up_user(client, rt)
    endpoint, secret = await new_endpoint(client, rt, user, receiver.url)
    assert secret.startswith("whsec_")
    assert endpoint["events"]
    assert endpoint["disabled"] is False

    key = await new_key(client, rt, user, label="desk bot")
    assert await deliver_all(rt) >= 1

    (received,) = receiver.wait_for(1)
    payload = verified(secret, received)
    assert payload["type"] == "key.created"
    data = payload["data"]
    assert data["id"] == key["apiKey"]["id"]
    assert data["key"] == key["apiKey"]["key"]
    assert data["label"] == "desk bot"
    assert data["subAccountId"] is None
    assert data["address"] == "127.0.0.1"
    assert received.headers["webhook-id"].startswith("msg_")
    assert key["secret"] not in received.body.decode()

    (delivery,) = await deliveries(client, user)
    assert delivery["type"] == "key.created"
    assert delivery["status"] == "SUCCEEDED"
    assert delivery["attempts"] == 1
    assert delivery["lastStatusCode"] == 200
    assert delivery["nextAttemptAt"] is None


async def test_the_secret_is_shown_once_and_stored_sealed(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    from tests.api.test_keys import raw_rows

    user = await signed_up_user(client, rt)
    _, secret = await new_endpoint(client, rt, user, receiver.url)
    (row,) = await raw_rows("webhook_endpoints")
    assert secret not in json.dumps(row, default=str)
    assert secret.removeprefix("whsec_") not in json.dumps(row, default=str)
    listed = await gql(client, "{ webhookEndpoints { id url } }", token=user.token)
    assert secret not in json.dumps(listed)


async def test_a_failing_endpoint_is_retried_with_the_same_webhook_id_until_failed(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    user = await signed_up_user(client, rt)
    endpoint, secret = await new_endpoint(client, rt, user, receiver.url)
    receiver.answer(500, 503, 500)
    sent = await gql(client, SEND_TEST, {"input": {"id": endpoint["id"]}}, token=user.token)
    assert sent["data"]["sendTestWebhook"]["delivery"]["status"] == "PENDING"

    await deliver_all(rt)
    (first,) = await deliveries(client, user)
    assert first["status"] == "PENDING"
    assert first["attempts"] == 1
    assert first["lastStatusCode"] == 500
    assert first["nextAttemptAt"] is not None

    assert await deliver_all(rt) == 0  # not due yet
    rt.clock.advance(1.5)
    await deliver_all(rt)
    rt.clock.advance(1.5)
    await deliver_all(rt)

    received = receiver.wait_for(3)
    assert len(received) == 3
    assert len({r.headers["webhook-id"] for r in received}) == 1
    assert {verified(secret, r)["type"] for r in received} == {"test"}
    (last,) = await deliveries(client, user)
    assert last["status"] == "FAILED"
    assert last["attempts"] == 3
    assert last["lastStatusCode"] == 500
    assert last["nextAttemptAt"] is None


async def test_a_retry_that_succeeds_ends_succeeded(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    user = await signed_up_user(client, rt)
    endpoint, _ = await new_endpoint(client, rt, user, receiver.url)
    receiver.answer(502)
    await gql(client, SEND_TEST, {"input": {"id": endpoint["id"]}}, token=user.token)
    await deliver_all(rt)
    rt.clock.advance(1.5)
    await deliver_all(rt)
    (delivery,) = await deliveries(client, user)
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == (
        "SUCCEEDED",
        2,
        200,
    )


async def test_only_the_events_an_endpoint_subscribed_to_are_sent(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    user = await signed_up_user(client, rt)
    _, secret = await new_endpoint(client, rt, user, receiver.url, events=["KEY_DELETED"])
    key = await new_key(client, rt, user)
    await deliver_all(rt)
    assert receiver.received == []

    body = await gql(client, DELETE, {"input": {"id": key["apiKey"]["id"]}}, token=user.token)
    assert body["data"]["deleteApiKey"]["userErrors"] == []
    await deliver_all(rt)
    (received,) = receiver.wait_for(1)
    assert verified(secret, received)["type"] == "key.deleted"


async def test_redirects_are_not_followed(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    with WebhookReceiver() as elsewhere, WebhookReceiver([302], redirect_to="") as mover:
        mover._redirect_to = elsewhere.url
        user = await signed_up_user(client, rt)
        endpoint, _ = await new_endpoint(client, rt, user, mover.url)
        await gql(client, SEND_TEST, {"input": {"id": endpoint["id"]}}, token=user.token)
        await deliver_all(rt)
        assert len(mover.wait_for(1)) == 1
        assert elsewhere.received == []
        (delivery,) = await deliveries(client, user)
        assert (delivery["status"], delivery["lastStatusCode"]) == ("PENDING", 302)


async def test_an_endpoint_whose_last_deliveries_all_failed_is_disabled_and_its_owner_mailed(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    quick = dataclasses.replace(rt, settings=rt.settings.with_overrides(webhook_retry_schedule=()))
    user = await signed_up_user(client, rt)
    endpoint, _ = await new_endpoint(client, rt, user, receiver.url)
    receiver.answer(500, 500, 500)
    mails = MailBag()
    for _ in range(3):
        await gql(client, SEND_TEST, {"input": {"id": endpoint["id"]}}, token=user.token)
    await deliver_all(quick, mails)

    (listed,) = await endpoints(client, user)
    assert listed["disabled"] is True
    assert [d["status"] for d in listed["deliveries"]["nodes"]] == ["FAILED"] * 3
    await deliver_all(quick, mails)
    assert [(t, to) for t, _, to in mails.sent] == [("endpoint.disabled", user.email)]
    assert mails.sent[0][1]["url"] == receiver.url

    await new_key(client, rt, user)  # a disabled endpoint gets nothing more
    await deliver_all(quick, mails)
    assert len(receiver.received) == 3


async def test_deleting_an_endpoint_stops_it_at_once(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    user = await signed_up_user(client, rt)
    endpoint, _ = await new_endpoint(client, rt, user, receiver.url)
    await gql(client, SEND_TEST, {"input": {"id": endpoint["id"]}}, token=user.token)
    body = await gql(client, DELETE_ENDPOINT, {"input": {"id": endpoint["id"]}}, token=user.token)
    assert body["data"]["deleteWebhookEndpoint"]["deletedWebhookEndpointId"] == endpoint["id"], body
    await deliver_all(rt)
    assert receiver.received == []
    assert await endpoints(client, user) == []


async def test_endpoints_need_two_factor_a_code_and_stay_under_the_limit(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    no_2fa = await signed_up_user(client, rt, two_factor=False)
    refused = await ask_endpoint(client, no_2fa, receiver.url)
    assert [e["code"] for e in refused["userErrors"]] == ["TWO_FACTOR_NOT_ENABLED"]

    user = await signed_up_user(client, rt)
    empty = await ask_endpoint(client, user, receiver.url, events=[])
    assert [e["field"] for e in empty["userErrors"]] == [["input", "events"]]
    await new_endpoint(client, rt, user, receiver.url)
    await new_endpoint(client, rt, user, receiver.url)
    full = await ask_endpoint(client, user, receiver.url)
    assert [e["code"] for e in full["userErrors"]] == ["LIMIT_REACHED"]

    other = await signed_up_user(client, rt)
    assert await endpoints(client, other) == []


async def test_a_sign_in_from_a_new_address_is_notified_once(
    client: httpx.AsyncClient, app: Starlette, rt: Runtime, receiver: WebhookReceiver
) -> None:
    user = await signed_up_user(client, rt)
    _, secret = await new_endpoint(client, rt, user, receiver.url, events=["NEW_SIGN_IN"])
    assert user.seed is not None
    await login_token(client, user.email, user.password, next_code(user.seed, rt))
    await deliver_all(rt)
    assert receiver.received == []  # 127.0.0.1 signed in before

    elsewhere = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://testserver") as away:
        for _ in range(2):
            await login_token(away, user.email, user.password, next_code(user.seed, rt))
    await deliver_all(rt)
    (received,) = receiver.wait_for(1)
    payload = verified(secret, received)
    assert payload["type"] == "account.new_sign_in"
    assert payload["data"]["address"] == "198.51.100.7"
    assert payload["data"]["email"] == user.email


async def test_a_key_entering_its_last_days_is_notified_as_key_expiring(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    from datetime import timedelta

    user = await signed_up_user(client, rt)
    _, secret = await new_endpoint(client, rt, user, receiver.url, events=["KEY_EXPIRING"])
    expires = (rt.clock.now() + timedelta(days=2)).isoformat()
    key = await new_key(client, rt, user, expiresAt=expires)
    assert await expiry_notices.notify_expiring(rt) == 1
    await deliver_all(rt)
    (received,) = receiver.wait_for(1)
    payload = verified(secret, received)
    assert payload["type"] == "key.expiring"
    assert payload["data"]["key"] == key["apiKey"]["key"]
    assert payload["data"]["expiresAt"]


async def test_every_delivery_checks_the_destination_again(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    user = await signed_up_user(client, rt)
    endpoint, _ = await new_endpoint(client, rt, user, receiver.url)  # allowed in development
    await gql(client, SEND_TEST, {"input": {"id": endpoint["id"]}}, token=user.token)
    strict = dataclasses.replace(
        rt, settings=rt.settings.with_overrides(webhook_allow_private=False)
    )
    await deliver_all(strict)
    assert receiver.received == []
    (delivery,) = await deliveries(client, user)
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == (
        "PENDING",
        1,
        None,
    )


async def test_a_delivery_claimed_by_a_worker_that_died_is_sent_after_its_lease(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    user = await signed_up_user(client, rt)
    endpoint, secret = await new_endpoint(client, rt, user, receiver.url)
    await gql(client, SEND_TEST, {"input": {"id": endpoint["id"]}}, token=user.token)
    dead = worker(rt)
    (claimed,) = await dead.claim()  # ... and the worker dies before sending
    await dead.aclose()
    assert await deliver_all(rt) == 0  # the lease holds
    rt.clock.advance(rt.settings.notification_claim_lease_seconds + 1)
    assert await deliver_all(rt) == 1
    (received,) = receiver.wait_for(1)
    assert received.headers["webhook-id"] == claimed.message_id
    assert verified(secret, received)["type"] == "test"
    (delivery,) = await deliveries(client, user)
    assert (delivery["status"], delivery["attempts"]) == ("SUCCEEDED", 1)


async def test_no_secret_leaves_in_a_delivery_or_a_mail(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    from tests.api.test_keys import raw_rows

    user = await signed_up_user(client, rt)
    _, whsec = await new_endpoint(client, rt, user, receiver.url)
    key = await new_key(client, rt, user)
    body = await gql(client, DELETE, {"input": {"id": key["apiKey"]["id"]}}, token=user.token)
    assert body["data"]["deleteApiKey"]["userErrors"] == []
    mails = MailBag()
    await deliver_all(rt, mails)

    sent = [r.body.decode() for r in receiver.wait_for(2)]
    sent += [json.dumps(m) for m in mails.sent]
    sent += [json.dumps(row, default=str) for row in await raw_rows("notification_deliveries")]
    assert len(receiver.received) == 2
    assert [t for t, _, _ in mails.sent] == ["key.created"]
    assert user.seed is not None
    for text in sent:
        for secret in (key["secret"], whsec, whsec.removeprefix("whsec_"), user.password):
            assert secret not in text
        assert user.seed not in text
        assert user.token not in text


async def test_a_named_host_is_called_at_its_checked_address_with_its_name_kept(
    client: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    named = receiver.url.replace("127.0.0.1", "localhost")
    user = await signed_up_user(client, rt)
    endpoint, secret = await new_endpoint(client, rt, user, named)
    await gql(client, SEND_TEST, {"input": {"id": endpoint["id"]}}, token=user.token)
    await deliver_all(rt)
    (received,) = receiver.wait_for(1)
    assert received.headers["host"] == named.split("/")[2]  # localhost:<port>
    assert received.path == "/hooks"
    assert verified(secret, received)["type"] == "test"
