"""The one-password-field-per-document rule stopped looking 16 fragments deep, so 17
nested fragments ran 20 ``login`` fields (20 argon2 hashes) in one request; and
``changePassword``, ``beginTwoFactorSetup`` and ``disableTwoFactor`` (each an argon2
check) were not counted at all. Now every field that hashes or checks a password counts,
through fragments at any depth, and a document may hold at most one of them."""

from __future__ import annotations

import httpx
import pytest

from gql_keys.runtime import Runtime
from harness.accounts import DEFAULT_PASSWORD, signed_up_user
from harness.graphql import gql
from tests.api.test_keys import raw_rows


def refused(body: dict[str, object]) -> bool:
    errors = body.get("errors") or []
    assert isinstance(errors, list)
    return body.get("data") is None and [e["extensions"]["code"] for e in errors] == [
        "GRAPHQL_VALIDATION_FAILED"
    ]


def logins(count: int) -> str:
    return " ".join(
        f'a{i}: login(input: {{email: "deep@example.com", password: "{DEFAULT_PASSWORD}"}})'
        " { userErrors { code } }"
        for i in range(count)
    )


async def test_twenty_logins_seventeen_fragments_deep_hash_nothing(
    client: httpx.AsyncClient,
) -> None:
    depth = 17
    fragments = [f"fragment F{i} on Mutation {{ ...F{i + 1} }}" for i in range(depth - 1)] + [
        f"fragment F{depth - 1} on Mutation {{ {logins(20)} }}"
    ]
    body = await gql(client, "mutation { ...F0 } " + " ".join(fragments))
    assert refused(body), body
    assert "at most one" in body["errors"][0]["message"]
    assert await raw_rows("throttle_counters") == []  # login reserves before hashing


async def test_one_login_behind_many_fragments_still_runs(client: httpx.AsyncClient) -> None:
    depth = 40
    fragments = [
        f"fragment F{i} on Mutation {{ ... on Mutation {{ ...F{i + 1} }} }}"
        for i in range(depth - 1)
    ] + [f"fragment F{depth - 1} on Mutation {{ {logins(1)} }}"]
    body = await gql(client, "mutation { ...F0 } " + " ".join(fragments))
    assert body.get("errors") is None, body
    assert [e["code"] for e in body["data"]["a0"]["userErrors"]] == ["INVALID_CREDENTIALS"]


PASSWORD_CHECKS = {
    "changePassword": (
        f'{{currentPassword: "{DEFAULT_PASSWORD}", newPassword: "{DEFAULT_PASSWORD} new"}}'
    ),
    "beginTwoFactorSetup": f'{{password: "{DEFAULT_PASSWORD}"}}',
    "disableTwoFactor": f'{{password: "{DEFAULT_PASSWORD}", code: "000000"}}',
}


@pytest.mark.parametrize("field", sorted(PASSWORD_CHECKS))
async def test_aliased_password_checks_in_one_document_are_refused(
    client: httpx.AsyncClient, rt: Runtime, field: str
) -> None:
    user = await signed_up_user(client, rt, two_factor=field == "disableTwoFactor")
    events_before = await raw_rows("security_events")
    aliases = " ".join(
        f"a{i}: {field}(input: {PASSWORD_CHECKS[field]}) {{ userErrors {{ code }} }}"
        for i in range(30)
    )
    body = await gql(client, f"mutation {{ {aliases} }}", token=user.token)
    assert refused(body), body
    assert await raw_rows("security_events") == events_before  # nothing ran


@pytest.mark.parametrize("field", sorted(PASSWORD_CHECKS))
async def test_a_password_check_beside_a_login_is_refused(
    client: httpx.AsyncClient, field: str
) -> None:
    query = (
        f"mutation {{ {logins(1)} b: {field}(input: {PASSWORD_CHECKS[field]})"
        " { userErrors { code } } }"
    )
    body = await gql(client, query)
    assert refused(body), body
    assert await raw_rows("throttle_counters") == []
