"""Registering accounts: e-mail normalisation, uniqueness, the password policy, storage."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tortoise.connection import connections

from gql_keys.runtime import Runtime
from harness.accounts import REGISTER, signed_up_user
from harness.graphql import gql

VIEWER = "{ viewer { id email twoFactorEnabled createdAt } }"


async def register(client: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    body = await gql(client, REGISTER, {"input": {"email": email, "password": password}})
    payload: dict[str, Any] = body["data"]["register"]
    return payload


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


async def test_register_returns_the_new_user(client: httpx.AsyncClient) -> None:
    payload = await register(client, "ada@example.com", "a long enough passphrase")
    assert payload["userErrors"] == []
    assert payload["user"]["email"] == "ada@example.com"
    assert payload["user"]["twoFactorEnabled"] is False


async def test_email_is_normalised(client: httpx.AsyncClient) -> None:
    payload = await register(client, "  Ada.Lovelace@Example.COM \t", "a long enough passphrase")
    assert payload["user"]["email"] == "ada.lovelace@example.com"


async def test_email_is_unique_whatever_its_case(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com", "a long enough passphrase")
    payload = await register(client, " ADA@example.com", "another long passphrase")
    assert codes(payload) == ["EMAIL_TAKEN"]
    assert payload["userErrors"][0]["field"] == ["input", "email"]
    assert payload["user"] is None


@pytest.mark.parametrize("email", ["", "no-at-sign", "two@@example.com", "a@b", "a b@c.com"])
async def test_invalid_email_is_rejected(client: httpx.AsyncClient, email: str) -> None:
    payload = await register(client, email, "a long enough passphrase")
    assert codes(payload) == ["INVALID_INPUT"]


@pytest.mark.parametrize(
    "password",
    [
        "short",
        "elevenchars",
        "password1234",  # on the common-password list
        "x" * 257,
    ],
)
async def test_weak_passwords_are_rejected(client: httpx.AsyncClient, password: str) -> None:
    payload = await register(client, "ada@example.com", password)
    assert codes(payload) == ["WEAK_PASSWORD"]
    assert payload["userErrors"][0]["field"] == ["input", "password"]


async def test_long_unicode_passphrase_is_accepted_and_not_truncated(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    passphrase = "Ünïcødé pässphrase, ☃ snowman and 日本語の文章 " * 5
    assert 200 < len(passphrase) <= 256
    user = await signed_up_user(client, rt, two_factor=False, password=passphrase)
    login = """
    mutation ($input: LoginInput!) { login(input: $input) { token userErrors { code } } }
    """
    body = await gql(
        client, login, {"input": {"email": user.email, "password": passphrase[:-1] + "!"}}
    )
    assert [e["code"] for e in body["data"]["login"]["userErrors"]] == ["INVALID_CREDENTIALS"]
    body = await gql(client, login, {"input": {"email": user.email, "password": passphrase}})
    assert body["data"]["login"]["userErrors"] == []


async def test_viewer_is_null_without_a_session(client: httpx.AsyncClient) -> None:
    body = await gql(client, VIEWER)
    assert body["data"]["viewer"] is None


async def test_viewer_with_a_session_is_the_user(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    body = await gql(client, VIEWER, token=user.token)
    assert body["data"]["viewer"]["email"] == user.email
    assert body["data"]["viewer"]["twoFactorEnabled"] is True
    assert body["data"]["viewer"]["createdAt"].endswith(("+00:00", "Z"))


async def test_database_holds_no_plaintext_secrets(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    assert user.recovery_codes is not None
    secrets = [user.password, user.token, user.seed, *user.recovery_codes]
    secrets += [c.replace("-", "") for c in user.recovery_codes]
    dump = ""
    for connection in connections.all():
        for table in ("users", "sessions", "recovery_codes"):
            _, rows = await connection.execute_query(f"SELECT * FROM {table}")
            dump += repr([dict(row) for row in rows])
    assert user.email in dump  # the dump is real
    for secret in secrets:
        assert secret not in dump
        assert secret.lower() not in dump.lower()
