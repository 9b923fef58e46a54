"""Setting up TOTP two-factor: begin with the password, confirm with a code."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from gql_keys.models import RecoveryCode, User
from gql_keys.runtime import Runtime
from harness.accounts import (
    BEGIN_SETUP,
    CONFIRM_SETUP,
    signed_up_user,
    totp_code,
)
from harness.graphql import error_codes, gql


async def begin(client: httpx.AsyncClient, token: str | None, password: str) -> dict[str, Any]:
    body = await gql(client, BEGIN_SETUP, {"input": {"password": password}}, token=token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["beginTwoFactorSetup"]
    return payload


async def confirm(client: httpx.AsyncClient, token: str, code: str) -> dict[str, Any]:
    body = await gql(client, CONFIRM_SETUP, {"input": {"code": code}}, token=token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["confirmTwoFactorSetup"]
    return payload


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_begin_setup_returns_seed_uri_and_qr(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    payload = await begin(client, user.token, user.password)
    assert payload["userErrors"] == []
    secret = payload["secret"]
    assert len(secret) == 32  # 160 bits in base32
    uri = urlsplit(payload["otpauthUri"])
    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    assert unquote(uri.path) == f"/gql-keys:{user.email}"
    query = parse_qs(uri.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["gql-keys"]
    assert "<svg" in payload["qrSvg"]


async def test_setup_responses_are_not_cached(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    response = await client.post(
        "/graphql",
        json={"query": BEGIN_SETUP, "variables": {"input": {"password": user.password}}},
        headers={"Authorization": f"Bearer {user.token}"},
    )
    assert response.headers["cache-control"] == "no-store"
    seed = response.json()["data"]["beginTwoFactorSetup"]["secret"]
    response = await client.post(
        "/graphql",
        json={"query": CONFIRM_SETUP, "variables": {"input": {"code": totp_code(seed, rt)}}},
        headers={"Authorization": f"Bearer {user.token}"},
    )
    assert response.headers["cache-control"] == "no-store"


async def test_two_factor_is_not_active_until_confirmed(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    await begin(client, user.token, user.password)
    row = await User.get(id=user.user_id)
    assert row.two_factor_enabled is False
    assert row.totp_seed_sealed is None
    login = (
        """mutation ($input: LoginInput!) { login(input: $input) { token userErrors { code } } }"""
    )
    body = await gql(client, login, {"input": {"email": user.email, "password": user.password}})
    assert body["data"]["login"]["userErrors"] == []


async def test_confirm_enables_two_factor_and_returns_ten_recovery_codes(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    seed = (await begin(client, user.token, user.password))["secret"]
    payload = await confirm(client, user.token, totp_code(seed, rt))
    assert payload["userErrors"] == []
    assert payload["user"]["twoFactorEnabled"] is True
    recovery = payload["recoveryCodes"]
    assert len(recovery) == 10
    assert len(set(recovery)) == 10
    assert await RecoveryCode.filter(user_id=user.user_id, used_at=None).count() == 10
    row = await User.get(id=user.user_id)
    assert row.totp_pending_seed_sealed is None
    assert row.totp_seed_sealed is not None


async def test_begin_setup_needs_the_right_password(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    payload = await begin(client, user.token, "not my password at all")
    assert codes(payload) == ["INVALID_CREDENTIALS"]
    assert payload["secret"] is None


async def test_begin_setup_needs_a_session(client: httpx.AsyncClient) -> None:
    body = await gql(client, BEGIN_SETUP, {"input": {"password": "whatever it is"}})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    body = await gql(client, CONFIRM_SETUP, {"input": {"code": "123456"}})
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_begin_setup_when_enabled_is_refused_and_never_shows_the_seed(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    payload = await begin(client, user.token, user.password)
    assert codes(payload) == ["TWO_FACTOR_ALREADY_ENABLED"]
    assert payload["secret"] is None
    assert payload["otpauthUri"] is None


async def test_confirm_without_begin_is_refused(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    payload = await confirm(client, user.token, "123456")
    assert codes(payload) == ["TWO_FACTOR_SETUP_NOT_STARTED"]


async def test_confirm_when_already_enabled_is_refused(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    payload = await confirm(client, user.token, totp_code(user.seed, rt))
    assert codes(payload) == ["TWO_FACTOR_ALREADY_ENABLED"]
    assert payload["recoveryCodes"] is None


async def test_confirm_with_a_wrong_code_keeps_two_factor_off(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    seed = (await begin(client, user.token, user.password))["secret"]
    payload = await confirm(client, user.token, wrong(totp_code(seed, rt)))
    assert codes(payload) == ["INVALID_TWO_FACTOR_CODE"]
    assert payload["userErrors"][0]["field"] == ["input", "code"]
    assert (await User.get(id=user.user_id)).two_factor_enabled is False
    # The right code still confirms.
    assert codes(await confirm(client, user.token, totp_code(seed, rt))) == []


async def test_confirm_accepts_one_step_of_drift_but_not_two(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    seed = (await begin(client, user.token, user.password))["secret"]
    too_old = totp_code(seed, rt, step_offset=-2)
    assert codes(await confirm(client, user.token, too_old)) == ["INVALID_TWO_FACTOR_CODE"]
    assert codes(await confirm(client, user.token, totp_code(seed, rt, step_offset=1))) == []


async def test_a_new_setup_replaces_the_pending_seed(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    first = (await begin(client, user.token, user.password))["secret"]
    second = (await begin(client, user.token, user.password))["secret"]
    assert first != second
    assert codes(await confirm(client, user.token, totp_code(first, rt))) == [
        "INVALID_TWO_FACTOR_CODE"
    ]
    assert codes(await confirm(client, user.token, totp_code(second, rt))) == []


async def test_concurrent_confirmations_enable_once(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    seed = (await begin(client, user.token, user.password))["secret"]
    code = totp_code(seed, rt)
    results = await asyncio.gather(*(confirm(client, user.token, code) for _ in range(5)))
    winners = [r for r in results if r["recoveryCodes"] is not None]
    assert len(winners) == 1
    assert await RecoveryCode.filter(user_id=user.user_id).count() == 10


async def test_confirm_locks_after_too_many_wrong_codes(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    seed = (await begin(client, user.token, user.password))["secret"]
    good = totp_code(seed, rt)
    for _ in range(rt.settings.two_factor_max_failures):
        await confirm(client, user.token, wrong(good))
    assert codes(await confirm(client, user.token, good)) == ["TOO_MANY_ATTEMPTS"]


async def test_wrong_setup_passwords_count_towards_the_account_lock(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    for _ in range(rt.settings.login_max_failures_per_account_and_address):
        await begin(client, user.token, "not my password at all")
    assert codes(await begin(client, user.token, user.password)) == ["TOO_MANY_ATTEMPTS"]


async def test_concurrent_wrong_confirmations_get_only_the_limit_checked(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    seed = (await begin(client, user.token, user.password))["secret"]
    limit = rt.settings.two_factor_max_failures
    good = totp_code(seed, rt)
    results = await asyncio.gather(*(confirm(client, user.token, wrong(good)) for _ in range(30)))
    answers = [code for r in results for code in codes(r)]
    assert answers.count("INVALID_TWO_FACTOR_CODE") == limit
    assert answers.count("TOO_MANY_ATTEMPTS") == 30 - limit
    assert codes(await confirm(client, user.token, good)) == ["TOO_MANY_ATTEMPTS"]
    rt.clock.advance(rt.settings.throttle_backoff_base_seconds + 1)
    assert codes(await confirm(client, user.token, totp_code(seed, rt))) == []
    row = await User.get(id=user.user_id)
    assert row.two_factor_enabled
