"""``changePassword``: the current password, the registration policy, other sessions end."""

from __future__ import annotations

import httpx

from gql_keys.models import ThrottleCounter
from gql_keys.runtime import Runtime
from gql_keys.security.passwords import MIN_PASSWORD_LENGTH, common_passwords
from gql_keys.services.accounts import account_subject
from harness.accounts import next_code, signed_up_user
from harness.graphql import error_codes, gql
from tests.api.security_support import (
    CHANGE_PASSWORD,
    DISABLE,
    SESSIONS,
    EventLog,
    error_codes_of,
    login,
    mutate,
)

NEW_PASSWORD = "a brand new passphrase for the desk"


async def change(
    client: httpx.AsyncClient, token: str, current: str, new: str
) -> dict[str, object]:
    data = {"currentPassword": current, "newPassword": new}
    return await mutate(client, "changePassword", CHANGE_PASSWORD, data, token)


async def test_changing_the_password_keeps_this_session_and_ends_every_other(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    other = (await login(client, user.email, user.password))["token"]
    log = await EventLog(client, user.token).start()

    payload = await change(client, user.token, user.password, NEW_PASSWORD)
    assert payload["userErrors"] == []
    assert payload["user"] == {"id": payload["user"]["id"], "email": user.email}  # type: ignore[index]
    assert await log.new_kinds() == ["PASSWORD_CHANGED"]
    assert error_codes(await gql(client, SESSIONS, token=other)) == ["UNAUTHENTICATED"]
    assert "errors" not in await gql(client, SESSIONS, token=user.token)

    old = await login(client, user.email, user.password)
    assert error_codes_of(old) == ["INVALID_CREDENTIALS"]
    new = await login(client, user.email, NEW_PASSWORD)
    assert new["userErrors"] == []


async def test_weak_or_common_new_passwords_are_refused(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    common = next(p for p in common_passwords() if len(p) >= MIN_PASSWORD_LENGTH)
    for weak in ("short pass", common, "x" * 10_000):
        payload = await change(client, user.token, user.password, weak)
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [  # type: ignore[attr-defined]
            ("WEAK_PASSWORD", ["input", "newPassword"])
        ]
    assert (await login(client, user.email, user.password))["userErrors"] == []


async def test_a_wrong_current_password_counts_toward_the_password_throttles(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    limit = rt.settings.login_max_failures_per_account_and_address
    for _ in range(limit):
        payload = await change(client, user.token, "not the password at all", NEW_PASSWORD)
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [  # type: ignore[attr-defined]
            ("INVALID_CREDENTIALS", ["input", "currentPassword"])
        ]
    locked = await change(client, user.token, user.password, NEW_PASSWORD)
    assert error_codes_of(locked) == ["TOO_MANY_ATTEMPTS"]
    # The same lock guards every password re-check of the account ...
    data = {"password": user.password, "code": next_code(user.seed, rt)}
    disabled = await mutate(client, "disableTwoFactor", DISABLE, data, user.token)
    assert error_codes_of(disabled) == ["TOO_MANY_ATTEMPTS"]
    # ... and each failure also counts as a failed login of the account.
    counter = await ThrottleCounter.get(subject=account_subject(user.email))
    assert counter.failures == limit
