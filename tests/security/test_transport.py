"""GraphQL over HTTP, strictly: what is executed, what is refused, with which status."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.security.conftest import ClientFactory

REGISTER = (
    'mutation { register(input: {email: "x@example.com", password: "p"}) { userErrors { code } } }'
)
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


async def test_body_over_the_limit_is_refused_with_413_before_parsing(
    client: httpx.AsyncClient,
) -> None:
    body = b'{"query": "' + b"a" * (1024 * 1024) + b'"}'
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_chunked_body_over_the_limit_is_refused_with_413(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_body_limit_is_configurable(make_client: ClientFactory) -> None:
    async with make_client(max_body_bytes=64) as client:
        response = await client.post("/graphql", json={"query": "{ viewer { id } }" + " " * 64})
        assert response.status_code == 413
        response = await client.post("/graphql", json={"query": "{ viewer { id } }"})
        assert response.status_code == 200


async def test_json_batches_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json=[{"query": "{ viewer { id } }"}, {"query": "{ viewer { id } }"}]
    )
    assert response.status_code == 400


async def test_queries_over_get_are_refused_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": "{ viewer { id } }"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_queries_over_get_run_when_enabled(make_client: ClientFactory) -> None:
    async with make_client(queries_over_get=True) as client:
        response = await client.get(
            "/graphql",
            params={"query": "{ viewer { id } }"},
            headers={"accept": "application/json"},
        )
        assert response.status_code == 200
        assert response.json() == {"data": {"viewer": None}}


async def test_mutations_over_get_are_never_executed(make_client: ClientFactory) -> None:
    async with make_client(queries_over_get=True) as client:
        response = await client.get(
            "/graphql", params={"query": REGISTER}, headers={"accept": "application/json"}
        )
        assert response.status_code == 405
        # Nothing was registered: the same e-mail is still free.
        body = (await client.post("/graphql", json={"query": REGISTER})).json()
        assert "EMAIL_TAKEN" not in json.dumps(body)


async def test_post_bodies_other_than_json_get_415(client: httpx.AsyncClient) -> None:
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/graphql",
        "application/jsonx",
        "application/json; charset=latin-1",
    ):
        response = await client.post(
            "/graphql",
            content=b'{"query": "{ viewer { id } }"}',
            headers={"content-type": content_type},
        )
        assert response.status_code == 415, content_type
    response = await client.post("/graphql", content=b'{"query": "{ viewer { id } }"}')
    assert response.status_code == 415


async def test_multipart_uploads_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps({"query": "{ viewer { id } }"}), "map": "{}"},
        files={"0": ("a.txt", b"hello", "text/plain")},
    )
    assert response.status_code == 415


async def test_graphql_response_json_is_accepted_as_post_content_type(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ viewer { id } }"}',
        headers={"content-type": GRAPHQL_RESPONSE_JSON},
    )
    assert response.status_code == 200


async def test_graphql_response_json_answers_400_on_request_errors(
    client: httpx.AsyncClient,
) -> None:
    headers = {"accept": GRAPHQL_RESPONSE_JSON}
    documents = [
        ({"query": "{ viewer { id "}, "parse"),
        ({"query": "{ noSuchField }"}, "validation"),
        (
            {
                "query": "query ($n: Int!) { apiKeys(first: $n) { totalCount } }",
                "variables": {"n": "many"},
            },
            "variable coercion",
        ),
    ]
    for payload, kind in documents:
        response = await client.post("/graphql", json=payload, headers=headers)
        assert response.status_code == 400, kind
        assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON), kind
        body = response.json()
        assert "data" not in body, kind
        assert body["errors"], kind


async def test_graphql_response_json_answers_200_when_execution_ran(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { id } }"},
        headers={"accept": f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert response.json() == {"data": {"viewer": None}}
    # A field error (not logged in) still executed the operation: 200 with errors.
    response = await client.post(
        "/graphql",
        json={"query": "{ apiKeys { totalCount } }"},
        headers={"accept": GRAPHQL_RESPONSE_JSON},
    )
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_application_json_keeps_200_on_request_errors(client: httpx.AsyncClient) -> None:
    for accept in ("application/json", "*/*", f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5"):
        response = await client.post(
            "/graphql", json={"query": "{ noSuchField }"}, headers={"accept": accept}
        )
        assert response.status_code == 200, accept
        assert response.headers["content-type"].startswith("application/json"), accept
        assert response.json()["data"] is None


async def test_graphql_responses_are_never_cached_or_sniffed(client: httpx.AsyncClient) -> None:
    responses = [
        await client.post("/graphql", json={"query": "{ viewer { id } }"}),
        await client.post("/graphql", json={"query": "{ nope }"}),
        await client.post("/graphql", content=b"x", headers={"content-type": "text/plain"}),
        await client.get("/graphql", params={"query": "{ viewer { id } }"}),
    ]
    for response in responses:
        assert response.headers["cache-control"] == "no-store", response.status_code
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-request-id"]
    health = await client.get("/healthz")
    assert health.headers["x-content-type-options"] == "nosniff"


async def test_request_ids_are_kept_when_well_formed_and_replaced_otherwise(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/healthz", headers={"x-request-id": "gw-1234"})
    assert response.headers["x-request-id"] == "gw-1234"
    response = await client.get("/healthz", headers={"x-request-id": "evil\tline break"})
    assert response.headers["x-request-id"] != "evil\tline break"
    assert len(response.headers["x-request-id"]) == 16


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/graphql",
        headers={
            "origin": "https://dashboard.example.com",
            "access-control-request-method": "POST",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { id } }"},
        headers={"origin": "https://dashboard.example.com"},
    )
    assert "access-control-allow-origin" not in response.headers


async def test_cors_allows_only_the_configured_origins(make_client: ClientFactory) -> None:
    allowed = "https://dashboard.example.com"
    async with make_client(allowed_origins=(allowed,)) as client:
        preflight = await client.options(
            "/graphql",
            headers={
                "origin": allowed,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == allowed
        response = await client.post(
            "/graphql", json={"query": "{ viewer { id } }"}, headers={"origin": allowed}
        )
        assert response.headers["access-control-allow-origin"] == allowed

        other = await client.options(
            "/graphql",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers


async def test_client_leaving_before_its_body_arrives_is_not_an_application_error(
    app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    """wrk and impatient clients close connections mid-request; that is not an ERROR
    with a traceback (a client could otherwise fill the logs at will)."""
    events: Iterator[dict[str, object]] = iter(
        [
            {"type": "http.request", "body": b'{"query": "{ __typ', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, object]:
        return next(events)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"40")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    with caplog.at_level(logging.INFO):
        await app(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 499
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
