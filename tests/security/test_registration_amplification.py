"""Registration amplified argon2: one 3.7 KB document with 30 aliased ``register``
fields created 30 accounts and held the hashing pool ``login`` shares for 3.4 s, and
``register`` was not throttled at all. Now one document may hold at most one
``register`` or ``login`` (refused at validation, before any hashing) and ``register``
is throttled per client address (``register_max_per_address`` per hour)."""

from __future__ import annotations

import httpx
import pytest

from harness.accounts import DEFAULT_PASSWORD, REGISTER
from harness.graphql import gql
from tests.api.test_keys import raw_rows
from tests.security.conftest import ClientFactory


def aliased(field: str, count: int) -> str:
    parts = [
        f'a{i}: {field}(input: {{email: "amp{i}@example.com", password: "{DEFAULT_PASSWORD}"}})'
        " { userErrors { code } }"
        for i in range(count)
    ]
    return "mutation { " + " ".join(parts) + " }"


@pytest.mark.parametrize("field", ["register", "login"])
async def test_thirty_aliased_registers_or_logins_in_one_document_hash_nothing(
    client: httpx.AsyncClient, field: str
) -> None:
    body = await gql(client, aliased(field, 30))
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert "at most one" in body["errors"][0]["message"]
    assert await raw_rows("users") == []
    assert await raw_rows("throttle_counters") == []  # login reserves before hashing


async def test_register_and_login_through_fragments_count_too(client: httpx.AsyncClient) -> None:
    query = (
        "mutation { ...R ...R } fragment R on Mutation { "
        f'register(input: {{email: "f@example.com", password: "{DEFAULT_PASSWORD}"}}) '
        "{ userErrors { code } } }"
    )
    body = await gql(client, query)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert await raw_rows("users") == []


async def test_one_register_beside_other_fields_still_runs(client: httpx.AsyncClient) -> None:
    query = (
        f'mutation {{ register(input: {{email: "one@example.com", password: "{DEFAULT_PASSWORD}"}})'
        " { user { email } userErrors { code } } __typename }"
    )
    body = await gql(client, query)
    assert body["data"]["register"]["user"]["email"] == "one@example.com"


async def test_registrations_are_throttled_per_client_address(
    make_client: ClientFactory,
) -> None:
    async with make_client(register_max_per_address=3) as client:
        for i in range(3):
            body = await gql(
                client, REGISTER, {"input": {"email": f"r{i}@example.com", "password": "weak"}}
            )
            assert [e["code"] for e in body["data"]["register"]["userErrors"]] == ["WEAK_PASSWORD"]
        body = await gql(
            client,
            REGISTER,
            {"input": {"email": "r9@example.com", "password": DEFAULT_PASSWORD}},
        )
        payload = body["data"]["register"]
        assert payload["user"] is None
        assert [e["code"] for e in payload["userErrors"]] == ["TOO_MANY_ATTEMPTS"]
        assert "seconds" in payload["userErrors"][0]["message"]
        assert await raw_rows("users") == []
