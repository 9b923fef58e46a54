"""The outbox with real ``gql-keys serve`` processes on PostgreSQL: two workers deliver
each message exactly once, and a worker killed with ``kill -9`` in the middle of a
delivery loses nothing (another sends it again, with the same ``webhook-id``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.accounts import TestUser, signed_up_user, totp_code
from harness.graphql import gql
from harness.webhook_receiver import WebhookReceiver
from tests.api.notifications_support import (
    CREATE_ENDPOINT,
    ENDPOINTS,
    SEND_TEST,
    VERIFY_ENDPOINT,
    verified,
)
from tests.conftest import POSTGRES_URL, REDIS_URL, require_service
from tests.scaleout.cluster import Cluster, real_clock, start_cluster, stop_cluster

FAST = {
    "GQL_KEYS_NOTIFICATION_POLL_SECONDS": "0.05",
    "GQL_KEYS_NOTIFICATION_BATCH_SIZE": "3",
    "GQL_KEYS_NOTIFICATION_CLAIM_LEASE_SECONDS": "3",
}


@pytest.fixture
def empty_cluster(tmp_path: Path) -> Iterator[Cluster]:
    postgres = require_service("postgres", POSTGRES_URL)
    redis = require_service("redis", REDIS_URL)
    started = start_cluster(postgres, redis, tmp_path, workers=0)
    try:
        yield started
    finally:
        stop_cluster(started, postgres)


async def endpoint_for(client: httpx.AsyncClient, url: str) -> tuple[TestUser, str, str]:
    """A new user with one endpoint: (user, endpoint id, signing secret)."""
    rt = real_clock()
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    body = await gql(
        client,
        CREATE_ENDPOINT,
        {"input": {"url": url, "events": ["KEY_CREATED"], "description": "scale-out"}},
        token=user.token,
    )
    challenge = body["data"]["createWebhookEndpoint"]["challenge"]["id"]
    body = await gql(
        client,
        VERIFY_ENDPOINT,
        {"input": {"challengeId": challenge, "code": totp_code(user.seed, rt)}},
        token=user.token,
    )
    payload = body["data"]["verifyTwoFactor"]
    assert payload["userErrors"] == [], payload
    return user, payload["webhookEndpoint"]["id"], payload["webhookSecret"]


async def send_test(client: httpx.AsyncClient, user: TestUser, endpoint_id: str) -> None:
    body = await gql(client, SEND_TEST, {"input": {"id": endpoint_id}}, token=user.token)
    assert body["data"]["sendTestWebhook"]["userErrors"] == [], body


async def deliveries(client: httpx.AsyncClient, user: TestUser) -> list[dict[str, Any]]:
    body = await gql(client, ENDPOINTS, token=user.token)
    nodes: list[dict[str, Any]] = body["data"]["webhookEndpoints"][0]["deliveries"]["nodes"]
    return nodes


async def test_two_workers_deliver_each_message_exactly_once(
    empty_cluster: Cluster, tmp_path: Path
) -> None:
    first = empty_cluster.add_server(tmp_path, **FAST)
    second = empty_cluster.add_server(tmp_path, **FAST)
    messages = 40
    with WebhookReceiver() as receiver:
        async with first.client() as a, second.client() as b:
            user, endpoint_id, secret = await endpoint_for(a, receiver.url)
            await asyncio.gather(
                *(send_test(a if i % 2 else b, user, endpoint_id) for i in range(messages))
            )
            receiver.wait_for(messages, timeout=30)
            await asyncio.sleep(1.0)  # time for a duplicate to show up, were there one
            received = list(receiver.received)
            assert len(received) == messages
            assert len({r.headers["webhook-id"] for r in received}) == messages
            assert all(verified(secret, r)["type"] == "test" for r in received)
            rows = await deliveries(b, user)
    assert [(d["status"], d["attempts"]) for d in rows] == [("SUCCEEDED", 1)] * messages


async def test_a_worker_killed_mid_delivery_loses_nothing(
    empty_cluster: Cluster, tmp_path: Path
) -> None:
    doomed = empty_cluster.add_server(tmp_path, **FAST)
    with WebhookReceiver() as receiver:
        receiver.hang.set()  # the first request is never answered
        async with doomed.client() as a:
            user, endpoint_id, secret = await endpoint_for(a, receiver.url)
            await send_test(a, user, endpoint_id)
            (first,) = receiver.wait_for(1, timeout=15)
        assert doomed.process is not None
        doomed.process.kill()  # SIGKILL: no shutdown, no outcome recorded
        doomed.process.wait()
        receiver.hang.clear()
        receiver.release.set()

        started = time.monotonic()
        survivor = empty_cluster.add_server(tmp_path, **FAST)
        received = receiver.wait_for(2, timeout=20)
        assert len(received) == 2, "the claimed delivery was not sent again"
        again = received[1]
        assert again.headers["webhook-id"] == first.headers["webhook-id"]
        assert verified(secret, again) == verified(secret, first)
        assert time.monotonic() - started < 15
        async with survivor.client() as b:
            for _ in range(50):
                rows = await deliveries(b, user)
                if rows[0]["status"] == "SUCCEEDED":
                    break
                await asyncio.sleep(0.1)
    (row,) = rows
    assert (row["status"], row["attempts"], row["lastStatusCode"]) == ("SUCCEEDED", 1, 200)
