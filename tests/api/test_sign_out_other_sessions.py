"""Changing the second factor (turning it on or off, new recovery codes) signs every other
session out unless the caller asks to stay signed in elsewhere
(``signOutOtherSessions: false``); the calling session always stays."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gql_keys.runtime import Runtime
from harness.accounts import (
    BEGIN_SETUP,
    CONFIRM_SETUP,
    next_code,
    previous_step_code,
    signed_up_user,
)
from tests.api.security_support import DISABLE, REGENERATE, call, login, mutate

VIEWER = "{ viewer { id } }"


async def signed_in(client: httpx.AsyncClient, token: str) -> bool:
    return (await call(client, VIEWER, token=token))["viewer"] is not None


def choice(sign_out: bool | None) -> dict[str, Any]:
    """The input field as a client sends it (None: left out, the default)."""
    return {} if sign_out is None else {"signOutOtherSessions": sign_out}


@pytest.mark.parametrize(("sign_out", "other_stays"), [(None, False), (False, True)])
async def test_turning_two_factor_on_signs_other_sessions_out_unless_asked_not_to(
    client: httpx.AsyncClient, rt: Runtime, sign_out: bool | None, other_stays: bool
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    other = (await login(client, user.email, user.password))["token"]
    begun = await mutate(
        client, "beginTwoFactorSetup", BEGIN_SETUP, {"password": user.password}, user.token
    )
    code = await previous_step_code(begun["secret"], rt)
    data = {"code": code, **choice(sign_out)}
    confirmed = await mutate(client, "confirmTwoFactorSetup", CONFIRM_SETUP, data, user.token)
    assert confirmed["userErrors"] == []
    assert await signed_in(client, user.token)
    assert await signed_in(client, other) is other_stays


@pytest.mark.parametrize(("sign_out", "other_stays"), [(None, False), (True, False), (False, True)])
async def test_new_recovery_codes_sign_other_sessions_out_unless_asked_not_to(
    client: httpx.AsyncClient, rt: Runtime, sign_out: bool | None, other_stays: bool
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    other = (await login(client, user.email, user.password, next_code(user.seed, rt)))["token"]
    data = {"code": next_code(user.seed, rt), **choice(sign_out)}
    payload = await mutate(client, "regenerateRecoveryCodes", REGENERATE, data, user.token)
    assert payload["userErrors"] == []
    assert await signed_in(client, user.token)
    assert await signed_in(client, other) is other_stays


@pytest.mark.parametrize(("sign_out", "other_stays"), [(None, False), (False, True)])
async def test_turning_two_factor_off_signs_other_sessions_out_unless_asked_not_to(
    client: httpx.AsyncClient, rt: Runtime, sign_out: bool | None, other_stays: bool
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    other = (await login(client, user.email, user.password, next_code(user.seed, rt)))["token"]
    data = {"password": user.password, "code": next_code(user.seed, rt), **choice(sign_out)}
    payload = await mutate(client, "disableTwoFactor", DISABLE, data, user.token)
    assert payload["userErrors"] == []
    assert await signed_in(client, user.token)
    assert await signed_in(client, other) is other_stays


async def test_a_refused_change_signs_nobody_out(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    other = (await login(client, user.email, user.password, next_code(user.seed, rt)))["token"]
    payload = await mutate(
        client, "regenerateRecoveryCodes", REGENERATE, {"code": "000000"}, user.token
    )
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_TWO_FACTOR_CODE"]
    assert await signed_in(client, other)
