"""``regenerateRecoveryCodes``: a current TOTP code replaces the whole set at once."""

from __future__ import annotations

import httpx

from gql_keys.runtime import Runtime
from harness.accounts import next_code, signed_up_user, totp_code
from tests.api.security_support import REGENERATE, EventLog, error_codes_of, login, mutate


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def regenerate(client: httpx.AsyncClient, token: str, code: str) -> dict[str, object]:
    return await mutate(client, "regenerateRecoveryCodes", REGENERATE, {"code": code}, token)


async def test_regenerated_codes_replace_the_old_ones_and_each_works_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    assert user.recovery_codes
    log = await EventLog(client, user.token).start()

    payload = await regenerate(client, user.token, next_code(user.seed, rt))
    assert payload["userErrors"] == []
    fresh = payload["recoveryCodes"]
    assert isinstance(fresh, list)
    assert len(fresh) == 10
    assert not set(fresh) & set(user.recovery_codes)
    assert await log.new_kinds() == ["RECOVERY_CODES_REGENERATED"]

    for old in user.recovery_codes[:3]:
        refused = await login(client, user.email, user.password, old)
        assert error_codes_of(refused) == ["INVALID_TWO_FACTOR_CODE"]
    assert (await login(client, user.email, user.password, fresh[0]))["userErrors"] == []
    again = await login(client, user.email, user.password, fresh[0])
    assert error_codes_of(again) == ["INVALID_TWO_FACTOR_CODE"]
    assert (await login(client, user.email, user.password, fresh[1]))["userErrors"] == []


async def test_regenerating_needs_a_current_unused_totp_code(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    assert user.recovery_codes
    log = await EventLog(client, user.token).start()
    used = next_code(user.seed, rt)
    assert (await regenerate(client, user.token, used))["userErrors"] == []
    await log.new()

    for bad in (used, wrong(totp_code(user.seed, rt)), user.recovery_codes[1]):
        refused = await regenerate(client, user.token, bad)
        assert error_codes_of(refused) == ["INVALID_TWO_FACTOR_CODE"]
        assert refused["recoveryCodes"] is None
    assert await log.new_kinds() == ["TWO_FACTOR_FAILED"] * 3


async def test_wrong_codes_count_toward_the_two_factor_throttle(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    for _ in range(rt.settings.two_factor_max_failures):
        refused = await regenerate(client, user.token, wrong(totp_code(user.seed, rt)))
        assert error_codes_of(refused) == ["INVALID_TWO_FACTOR_CODE"]
    locked = await regenerate(client, user.token, next_code(user.seed, rt))
    assert error_codes_of(locked) == ["TOO_MANY_ATTEMPTS"]
