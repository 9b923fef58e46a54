"""A subscription sent over HTTP POST was answered 200 with INTERNAL_SERVER_ERROR and
an ERROR traceback in the log: anyone could flood the error log. It is now refused as a
client error: 405 (GraphQL over HTTP allows it for a subscription over POST) with a
coded GraphQL error, and nothing at ERROR level is logged."""

from __future__ import annotations

import httpx

from tests.security.conftest import LogCapture

SUBSCRIPTION = "subscription { keyActivity { id kind } }"


async def test_subscription_over_post_is_a_405_client_error_without_an_error_log(
    client: httpx.AsyncClient, captured_logs: LogCapture
) -> None:
    response = await client.post("/graphql", json={"query": SUBSCRIPTION})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["OPERATION_NOT_SUPPORTED"]
    assert '"level": "ERROR"' not in captured_logs.text
    assert "Traceback" not in captured_logs.text


async def test_subscription_over_post_with_a_named_operation_is_refused_alike(
    client: httpx.AsyncClient, captured_logs: LogCapture
) -> None:
    document = "query Q { viewer { id } } " + SUBSCRIPTION.replace("subscription", "subscription S")
    response = await client.post("/graphql", json={"query": document, "operationName": "S"})
    assert response.status_code == 405
    ok = await client.post("/graphql", json={"query": document, "operationName": "Q"})
    assert ok.status_code == 200
    assert ok.json() == {"data": {"viewer": None}}
    assert '"level": "ERROR"' not in captured_logs.text
