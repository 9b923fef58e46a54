"""Notification mail through the outbox to a real SMTP server (aiosmtpd): which events
mail the account, what a mail names, retries while the server refuses, the owner told of
a disabled endpoint, and the log in development. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from gql_keys.notifications.mail import LogMailer, mailer_for
from gql_keys.runtime import Runtime
from gql_keys.services.deliveries import DeliveryWorker
from gql_keys.services.notification_worker import mail_sender
from gql_keys.settings import Settings
from harness.accounts import login_token, next_code, signed_up_user
from harness.graphql import gql
from harness.mail_server import MailServer, mail_server
from harness.webhook_receiver import WebhookReceiver
from tests.api.notifications_support import SEND_TEST, endpoints, new_endpoint
from tests.api.test_keys import DELETE, new_key, raw_rows

SENDER = "keys@example.com"


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with mail_server() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, smtp: MailServer) -> Settings:
    return settings.with_overrides(
        notification_delivery=False,
        webhook_retry_schedule=(1.0,),
        webhook_disable_after_failures=2,
        smtp_url=SecretStr(smtp.url()),
        mail_from=SENDER,
    )


async def deliver(rt: Runtime) -> int:
    worker = DeliveryWorker(rt, mail_sender(mailer_for(rt.settings)))
    total = 0
    try:
        while (claimed := await worker.deliver_due()) > 0:
            total += claimed
    finally:
        await worker.aclose()
    return total


async def mail_rows() -> list[dict[str, Any]]:
    return [r for r in await raw_rows("notification_deliveries") if r["channel"] == "email"]


async def test_a_new_key_mails_the_account_its_label_and_identifier_never_its_secret(
    client: httpx.AsyncClient, rt: Runtime, smtp: MailServer
) -> None:
    user = await signed_up_user(client, rt)
    key = await new_key(client, rt, user, label="market maker")
    await deliver(rt)

    (message,) = smtp.inbox.messages
    assert message["From"] == SENDER
    assert message["To"] == user.email
    assert message["Subject"] == "[gql-keys] New API key market maker"
    body = message.get_content()
    assert key["apiKey"]["key"] in body
    assert "127.0.0.1" in body
    raw = b"".join(smtp.inbox.raw).decode()
    assert key["secret"] not in raw
    assert user.seed is not None
    assert user.seed not in raw
    ((row),) = await mail_rows()
    assert (row["status"], row["attempts"], row["recipient"]) == ("SUCCEEDED", 1, user.email)


async def test_only_the_listed_events_mail(
    client: httpx.AsyncClient, rt: Runtime, smtp: MailServer
) -> None:
    user = await signed_up_user(client, rt)
    key = await new_key(client, rt, user)
    body = await gql(client, DELETE, {"input": {"id": key["apiKey"]["id"]}}, token=user.token)
    assert body["data"]["deleteApiKey"]["userErrors"] == []
    await deliver(rt)
    # key.created mails; key.deleted is for webhooks only.
    assert [m["Subject"] for m in smtp.inbox.messages] == [
        f"[gql-keys] New API key {key['apiKey']['label']}"
    ]


async def test_a_refused_mail_is_retried_until_the_server_takes_it(
    client: httpx.AsyncClient, rt: Runtime, smtp: MailServer
) -> None:
    user = await signed_up_user(client, rt)
    smtp.inbox.refuse_with = "451 4.3.0 try again later"
    await new_key(client, rt, user)
    await deliver(rt)
    ((row),) = await mail_rows()
    assert (row["status"], row["attempts"]) == ("PENDING", 1)
    assert smtp.inbox.messages == []

    smtp.inbox.refuse_with = None
    rt.clock.advance(1.5)
    await deliver(rt)
    ((row),) = await mail_rows()
    assert (row["status"], row["attempts"]) == ("SUCCEEDED", 2)
    assert len(smtp.inbox.messages) == 1


async def test_a_mail_refused_past_the_schedule_fails(
    client: httpx.AsyncClient, rt: Runtime, smtp: MailServer
) -> None:
    user = await signed_up_user(client, rt)
    smtp.inbox.refuse_with = "550 5.1.1 no such mailbox"
    await new_key(client, rt, user)
    await deliver(rt)
    rt.clock.advance(1.5)
    await deliver(rt)
    ((row),) = await mail_rows()
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("FAILED", 2, None)


async def test_a_sign_in_from_a_new_address_is_mailed_with_the_address(
    client: httpx.AsyncClient, app: Starlette, rt: Runtime, smtp: MailServer
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    elsewhere = httpx.ASGITransport(app=app, client=("198.51.100.23", 40000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://testserver") as away:
        await login_token(away, user.email, user.password, next_code(user.seed, rt))
    await deliver(rt)
    (message,) = smtp.inbox.messages
    assert message["Subject"] == "[gql-keys] New sign-in to your account"
    assert "198.51.100.23" in message.get_content()


async def test_the_owner_is_mailed_when_an_endpoint_is_disabled(
    client: httpx.AsyncClient, rt: Runtime, smtp: MailServer
) -> None:
    quick = dataclasses.replace(rt, settings=rt.settings.with_overrides(webhook_retry_schedule=()))
    user = await signed_up_user(client, rt)
    with WebhookReceiver([500, 500]) as receiver:
        endpoint, _ = await new_endpoint(client, rt, user, receiver.url)
        for _ in range(2):
            await gql(client, SEND_TEST, {"input": {"id": endpoint["id"]}}, token=user.token)
        await deliver(quick)
        await deliver(quick)
    (listed,) = await endpoints(client, user)
    assert listed["disabled"] is True
    (message,) = smtp.inbox.messages
    assert message["Subject"] == "[gql-keys] A webhook endpoint was turned off"
    assert receiver.url in message.get_content()


async def test_without_an_smtp_url_each_mail_is_written_to_the_log(
    client: httpx.AsyncClient, rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    development = dataclasses.replace(
        rt, settings=rt.settings.with_overrides(smtp_url=SecretStr(""), mail_from="")
    )
    assert isinstance(mailer_for(development.settings), LogMailer)
    user = await signed_up_user(client, rt)
    key = await new_key(client, rt, user, label="logged")
    with caplog.at_level(logging.INFO, logger="gql_keys.mail"):
        await deliver(development)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "gql_keys.mail")
    assert "New API key logged" in logged
    assert user.email in logged
    assert key["secret"] not in logged


async def test_quarantine_and_a_withdrawal_cooling_off_mail_why_and_when(
    client: httpx.AsyncClient, rt: Runtime, smtp: MailServer
) -> None:
    from tests.api.key_safety_support import QUARANTINE

    user = await signed_up_user(client, rt)
    created = await new_key(
        client,
        rt,
        user,
        label="payouts",
        scopes=["SPOT_WRITE", "WITHDRAW"],
        ipAllowlist=["203.0.113.9"],
    )
    body = await gql(
        client, QUARANTINE, {"input": {"id": created["apiKey"]["id"]}}, token=user.token
    )
    assert body["data"]["quarantineApiKey"]["userErrors"] == []
    await deliver(rt)
    # (A subject this long arrives folded: compare it unfolded.)
    by_subject = {str(m["Subject"]).strip(): m.get_content() for m in smtp.inbox.messages}
    (pending,) = [
        s for s in by_subject if s.startswith("[gql-keys] Withdrawals for API key payouts")
    ]
    assert "unknown" not in pending  # effectiveAt is named
    assert "WITHDRAW" in by_subject[pending]
    quarantined = by_subject["[gql-keys] API key payouts quarantined"]
    assert "you (or someone signed in as you) quarantined it" in quarantined
