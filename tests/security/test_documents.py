"""Hostile documents: floods of aliases, tokens and depth; oversized pages; disclosure."""

from __future__ import annotations

import json

import httpx
import pytest

from gql_keys.runtime import Runtime
from gql_keys.services import accounts as accounts_service
from harness.accounts import signed_up_user
from harness.graphql import error_codes, gql
from tests.security.conftest import ClientFactory, LogCapture


def _messages(body: dict[str, object]) -> str:
    return json.dumps(body.get("errors") or [])


async def test_a_document_cannot_carry_a_flood_of_login_attempts(
    client: httpx.AsyncClient,
) -> None:
    fields = " ".join(
        f'a{i}: login(input: {{email: "v@example.com", password: "guess{i}"}}) {{ token }}'
        for i in range(40)
    )
    body = await gql(client, f"mutation {{ {fields} }}")
    assert body["data"] is None
    assert "aliases found" in _messages(body)
    assert set(error_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}


async def test_a_document_cannot_carry_a_flood_of_two_factor_codes(
    client: httpx.AsyncClient,
) -> None:
    fields = " ".join(
        f'a{i}: verifyTwoFactor(input: {{challengeId: "x", code: "{i:06d}"}}) '
        "{ secret userErrors { code } }"
        for i in range(35)
    )
    body = await gql(client, f"mutation {{ {fields} }}")
    assert body["data"] is None
    assert "aliases found" in _messages(body)


async def test_aliases_up_to_the_limit_are_fine(make_client: ClientFactory) -> None:
    async with make_client(max_aliases=3) as client:
        three = "{ a: viewer { id } b: viewer { id } c: viewer { id } }"
        body = await gql(client, three)
        assert body == {"data": {"a": None, "b": None, "c": None}}
        body = await gql(
            client, "{ a: viewer { id } b: viewer { id } c: viewer { id } d: viewer { id } }"
        )
        assert "4 aliases found" in _messages(body)


async def test_documents_over_the_token_limit_are_not_parsed(client: httpx.AsyncClient) -> None:
    body = await gql(client, "{ viewer { " + "id " * 3000 + "} }")
    assert body["data"] is None
    assert "more than 2000 tokens" in _messages(body)


async def test_documents_deeper_than_the_limit_are_refused(make_client: ClientFactory) -> None:
    query = "{ apiKeys { edges { node { rateLimit { requests } } } } }"
    async with make_client(max_query_depth=3) as client:
        body = await gql(client, query)
        assert body["data"] is None
        assert "exceeds maximum operation depth" in _messages(body)
    async with make_client(max_query_depth=5) as client:
        body = await gql(client, query)
        assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_introspection_cannot_be_nested_without_bound(client: httpx.AsyncClient) -> None:
    cycle = "fields { type { " * 5 + "name" + " } }" * 5
    body = await gql(client, f"{{ __schema {{ types {{ {cycle} }} }} }}")
    assert body["data"] is None
    assert "Maximum introspection depth exceeded" in _messages(body)
    # What GraphiQL sends stays allowed in development.
    body = await gql(
        client,
        "{ __schema { types { name fields "
        " { name type { name ofType { name ofType { name } } } } } } }",
    )
    assert body["data"]["__schema"]["types"]


@pytest.mark.parametrize("first", [0, -1, 101, 100000])
async def test_pages_are_capped_at_one_hundred(
    client: httpx.AsyncClient, rt: Runtime, first: int
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    body = await gql(
        client,
        "query ($n: Int) { apiKeys(first: $n) { totalCount } }",
        {"n": first},
        token=user.token,
    )
    assert body["data"] is None
    assert error_codes(body) == ["INVALID_INPUT"]


async def test_errors_never_suggest_field_names(client: httpx.AsyncClient) -> None:
    body = await gql(client, "{ viewr { id } apiKey { lable } }")
    text = _messages(body)
    assert body["errors"]
    assert "Did you mean" not in text
    assert "viewer" not in text


async def test_introspection_and_graphiql_are_on_in_development(
    make_client: ClientFactory,
) -> None:
    async with make_client(env="development") as client:
        body = await gql(client, "{ __schema { queryType { name } } }")
        assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()


async def test_introspection_and_graphiql_are_off_in_production(
    make_client: ClientFactory,
) -> None:
    async with make_client(env="production") as client:
        for query in (
            "{ __schema { queryType { name } } }",
            '{ __type(name: "ApiKey") { fields { name } } }',
        ):
            body = await gql(client, query)
            assert body["data"] is None, query
            assert "introspection" in _messages(body).lower()
        # __typename is not introspection of the schema and stays available.
        assert await gql(client, "{ __typename }") == {"data": {"__typename": "Query"}}
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 404
        assert (await client.get("/graphiql/graphiql.js")).status_code == 404


async def test_unexpected_errors_are_masked_and_logged_redacted(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, captured_logs: LogCapture
) -> None:
    leaked = "gks_" + "L" * 43
    seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"database said: token={leaked} seed {seed} password='hunter22'")

    monkeypatch.setattr(accounts_service, "register", broken)
    response = await client.post(
        "/graphql",
        json={
            "query": "mutation ($i: RegisterInput!) { register(input: $i) { user { id } } }",
            "variables": {"i": {"email": "m@example.com", "password": "hunter22-long-pass"}},
        },
    )
    assert response.status_code == 200
    body = response.json()
    (error,) = body["errors"]
    assert error["message"] == "Internal server error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert "database said" not in response.text

    lines = [json.loads(line) for line in captured_logs.text.splitlines()]
    logged = [line for line in lines if line.get("requestId") == error["extensions"]["requestId"]]
    assert any("RuntimeError" in line.get("exception", "") for line in logged), lines
    assert leaked not in captured_logs.text
    assert seed not in captured_logs.text
    assert "hunter22" not in captured_logs.text


def test_limits_and_production_mode_never_change_the_schema() -> None:
    from gql_keys.graphql.schema import build_schema
    from gql_keys.settings import Settings

    strict = Settings(env="production", max_aliases=1, max_tokens=10, max_query_depth=1)
    assert build_schema(strict).as_str() == build_schema(Settings()).as_str()
