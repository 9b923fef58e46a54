"""What errors echo: suggestions that map the schema, and the caller's input values.

Enum coercion and unknown-type validation errors said "Did you mean 'CreateApiKeyInput'…",
mapping the schema for someone without introspection, and variable-coercion errors
echoed the whole input back, signature included. The field path and the reason stay.
"""

from __future__ import annotations

from typing import Any

import httpx

SIGNATURE = "f" * 128 + "-THE-SIGNATURE"

VERIFY = """
mutation ($input: VerifyApiRequestInput!) { verifyApiRequest(input: $input) { allowed } }
"""
CREATE = """
mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { userErrors { code } } }
"""


def messages(body: dict[str, Any]) -> list[str]:
    return [e["message"] for e in body["errors"]]


async def post(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_unknown_type_error_suggests_no_type_names(client: httpx.AsyncClient) -> None:
    body = await post(client, "query ($i: UpdateApiKeyInpt) { viewer { id } }", {})
    text = " ".join(messages(body))
    assert "Unknown type 'UpdateApiKeyInpt'." in text
    assert "Did you mean" not in text
    assert "CreateApiKeyInput" not in text


async def test_enum_literal_error_suggests_no_enum_values(client: httpx.AsyncClient) -> None:
    query = (
        'mutation { createApiKey(input: {label: "x", scopes: [SPOT_REED]}) '
        "{ userErrors { code } } }"
    )
    body = await post(client, query, {})
    text = " ".join(messages(body))
    assert "Scope" in text
    assert "Did you mean" not in text
    assert "SPOT_READ" not in text


async def test_enum_variable_error_keeps_the_path_without_suggestions(
    client: httpx.AsyncClient,
) -> None:
    body = await post(client, CREATE, {"input": {"label": "x", "scopes": ["SPOT_REED"]}})
    (message,) = messages(body)
    assert "$input" in message
    assert "scopes[0]" in message
    assert "Did you mean" not in message
    assert "SPOT_READ" not in message
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_variable_coercion_errors_do_not_echo_the_signature(
    client: httpx.AsyncClient,
) -> None:
    variables = {
        "input": {
            "key": "KEY-ID",
            "signature": SIGNATURE,
            "timestamp": 1700000000,  # a number where a string is required
            "method": "GET",
            "path": "/api/v4/spot/orders",
            "query": "",
            "bodySha512": "",
            "clientIp": "192.0.2.1",
            "unexpected": "x",
        }
    }
    body = await post(client, VERIFY, variables)
    text = " ".join(messages(body))
    assert SIGNATURE not in text
    assert "1700000000" not in text
    assert "KEY-ID" not in text
    assert "$input" in text
    assert "timestamp" in text  # the path of the bad value
    assert "unexpected" in text  # the field that should not be there
    assert "requiredScope" in text  # the field that is missing


async def test_a_whole_variable_of_the_wrong_shape_is_not_echoed(
    client: httpx.AsyncClient,
) -> None:
    body = await post(client, CREATE, {"input": SIGNATURE})
    (message,) = messages(body)
    assert SIGNATURE not in message
    assert "CreateApiKeyInput" in message


async def test_scalar_coercion_errors_name_the_path_not_the_value(
    client: httpx.AsyncClient,
) -> None:
    variables = {
        "input": {
            "label": "x",
            "scopes": ["SPOT_READ"],
            "expiresAt": "SECRET-not-a-date",
            "rateLimit": {"requests": "SECRET-not-a-number", "perSeconds": 10},
        }
    }
    body = await post(client, CREATE, variables)
    text = " ".join(messages(body))
    assert "SECRET" not in text
    assert ".expiresAt" in text
    assert ".rateLimit.requests" in text
