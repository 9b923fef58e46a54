"""``disableTwoFactor``: password and a current code; never while keys live; seed destroyed."""

from __future__ import annotations

import httpx

from gql_keys.models import RecoveryCode, User
from gql_keys.runtime import Runtime
from harness.accounts import next_code, signed_up_user, totp_code
from tests.api.security_support import (
    CHANGE_PASSWORD,
    DISABLE,
    EventLog,
    confirm_key,
    create_challenge,
    delete_key,
    error_codes_of,
    login,
    mutate,
)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def disable(
    client: httpx.AsyncClient, token: str, password: str, code: str
) -> dict[str, object]:
    data = {"password": password, "code": code}
    return await mutate(client, "disableTwoFactor", DISABLE, data, token)


async def test_disabling_is_refused_while_keys_live_then_destroys_the_seed_and_codes(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    challenge = (await create_challenge(client, user.token))["challenge"]["id"]
    key = (await confirm_key(client, user.token, challenge, next_code(user.seed, rt)))["apiKey"]
    log = await EventLog(client, user.token).start()

    refused = await disable(client, user.token, user.password, next_code(user.seed, rt))
    assert error_codes_of(refused) == ["KEYS_EXIST"]
    assert refused["user"] is None
    assert (await User.get(id=user.user_id)).two_factor_enabled
    await delete_key(client, user.token, key["id"])
    await log.new()

    # The code of the refused attempt was not used up by the refusal.
    payload = await disable(client, user.token, user.password, totp_code(user.seed, rt))
    assert payload["userErrors"] == []
    assert payload["user"] == {"id": payload["user"]["id"], "twoFactorEnabled": False}  # type: ignore[index]
    assert await log.new_kinds() == ["TWO_FACTOR_DISABLED"]
    row = await User.get(id=user.user_id)
    assert (row.totp_seed_sealed, row.totp_pending_seed_sealed) == (None, None)
    assert await RecoveryCode.filter(user_id=user.user_id).count() == 0

    created = await create_challenge(client, user.token)
    assert error_codes_of(created) == ["TWO_FACTOR_NOT_ENABLED"]
    assert (await login(client, user.email, user.password))["userErrors"] == []


async def test_disabling_needs_the_password_and_a_current_code(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    assert user.recovery_codes
    code = next_code(user.seed, rt)
    cases = [
        ("not the password at all", code, "INVALID_CREDENTIALS"),
        (user.password, wrong(code), "INVALID_TWO_FACTOR_CODE"),
        (user.password, user.recovery_codes[0], "INVALID_TWO_FACTOR_CODE"),
    ]
    for password, given, expected in cases:
        refused = await disable(client, user.token, password, given)
        assert error_codes_of(refused) == [expected]
    assert (await User.get(id=user.user_id)).two_factor_enabled
    assert await RecoveryCode.filter(user_id=user.user_id).count() == 10

    twice = await disable(client, user.token, user.password, code)
    assert twice["userErrors"] == []
    again = await disable(client, user.token, user.password, next_code(user.seed, rt))
    assert error_codes_of(again) == ["TWO_FACTOR_NOT_ENABLED"]


async def test_a_wrong_password_counts_toward_the_password_throttle(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    for _ in range(rt.settings.login_max_failures_per_account_and_address):
        refused = await disable(client, user.token, "not the password at all", "000000")
        assert error_codes_of(refused) == ["INVALID_CREDENTIALS"]
    locked = await disable(client, user.token, user.password, next_code(user.seed, rt))
    assert error_codes_of(locked) == ["TOO_MANY_ATTEMPTS"]
    data = {"currentPassword": user.password, "newPassword": "a brand new passphrase"}
    changed = await mutate(client, "changePassword", CHANGE_PASSWORD, data, user.token)
    assert error_codes_of(changed) == ["TOO_MANY_ATTEMPTS"]
    assert (await User.get(id=user.user_id)).two_factor_enabled
