"""Logging in and out: identical failures, throttling, 2FA, sessions and their expiry."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gql_keys.broker.events import ActivityKind
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import Session
from gql_keys.runtime import Runtime
from gql_keys.services import two_factor
from harness.accounts import (
    LOCAL_CLIENT,
    LOGIN,
    next_code,
    signed_up_user,
    totp_code,
)
from harness.graphql import error_codes, gql

VIEWER = "{ viewer { id email } }"
LOGOUT = "mutation { logout { userErrors { code } } }"


async def login(
    client: httpx.AsyncClient,
    email: str,
    password: str,
    totp: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = await gql(
        client,
        LOGIN,
        {"input": {"email": email, "password": password, "totpCode": totp}},
        headers=headers,
    )
    payload: dict[str, Any] = body["data"]["login"]
    return payload


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


async def test_login_returns_a_working_session_token(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    payload = await login(client, user.email, user.password)
    assert payload["userErrors"] == []
    assert payload["token"].startswith("gks_")
    assert payload["user"]["email"] == user.email
    body = await gql(client, VIEWER, token=payload["token"])
    assert body["data"]["viewer"]["email"] == user.email


async def test_login_response_is_not_cached(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    response = await client.post(
        "/graphql",
        json={
            "query": LOGIN,
            "variables": {"input": {"email": user.email, "password": user.password}},
        },
    )
    assert response.headers["cache-control"] == "no-store"


async def test_login_accepts_email_in_other_case_and_spacing(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    payload = await login(client, f"  {user.email.upper()} ", user.password)
    assert payload["userErrors"] == []


async def test_unknown_email_and_wrong_password_answer_identically(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    wrong_password = await login(client, user.email, "not the right password at all")
    unknown_email = await login(client, "nobody@example.com", user.password)
    assert wrong_password == unknown_email
    assert wrong_password["token"] is None
    assert codes(wrong_password) == ["INVALID_CREDENTIALS"]


async def test_account_is_locked_after_too_many_failures(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    limit = rt.settings.login_max_failures_per_account_and_address
    for _ in range(limit):
        assert codes(await login(client, user.email, "wrong password guess")) == [
            "INVALID_CREDENTIALS"
        ]
    # Even the right password is not looked at now.
    assert codes(await login(client, user.email, user.password)) == ["TOO_MANY_ATTEMPTS"]


async def test_unknown_email_is_locked_like_a_real_account(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    for _ in range(rt.settings.login_max_failures_per_account_and_address):
        await login(client, "ghost@example.com", "wrong password guess")
    assert codes(await login(client, "ghost@example.com", "x" * 12)) == ["TOO_MANY_ATTEMPTS"]


async def test_account_lock_backs_off_longer_each_time(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    limit = rt.settings.login_max_failures_per_account_and_address
    base = rt.settings.throttle_backoff_base_seconds
    for _ in range(limit):
        await login(client, user.email, "wrong password guess")
    rt.clock.advance(base + 1)
    # The first block has passed: the password is checked again.
    for _ in range(limit):
        assert codes(await login(client, user.email, "wrong password guess")) == [
            "INVALID_CREDENTIALS"
        ]
    rt.clock.advance(base + 1)
    assert codes(await login(client, user.email, user.password)) == ["TOO_MANY_ATTEMPTS"]
    rt.clock.advance(base)
    assert codes(await login(client, user.email, user.password)) == []


async def test_success_resets_the_account_failure_count(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    limit = rt.settings.login_max_failures_per_account_and_address
    for _ in range(limit - 1):
        await login(client, user.email, "wrong password guess")
    assert codes(await login(client, user.email, user.password)) == []
    for _ in range(limit - 1):
        await login(client, user.email, "wrong password guess")
    assert codes(await login(client, user.email, user.password)) == []


async def test_failures_outside_the_window_are_forgotten(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    limit = rt.settings.login_max_failures_per_account_and_address
    for _ in range(limit - 1):
        await login(client, user.email, "wrong password guess")
    rt.clock.advance(rt.settings.login_failure_window_seconds + 1)
    await login(client, user.email, "wrong password guess")
    assert codes(await login(client, user.email, user.password)) == []


async def test_address_is_locked_after_many_failures_across_accounts(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    limit = rt.settings.login_max_failures_per_address
    for i in range(limit):
        await login(client, f"spray-{i % 50}@example.com", "wrong password guess")
    # The account itself never failed, but its address is blocked.
    assert codes(await login(client, user.email, user.password)) == ["TOO_MANY_ATTEMPTS"]


async def test_office_address_below_the_limit_is_not_locked(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    # Many colleagues behind one address mistype, each fewer times than their own limit.
    for i in range(rt.settings.login_max_failures_per_address - 1):
        await login(client, f"colleague-{i // 5}@example.com", "wrong password guess")
    assert codes(await login(client, user.email, user.password)) == []


async def test_aliased_logins_are_refused_before_any_password_is_checked(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    fields = " ".join(
        f'a{i}: login(input: {{email: "{user.email}", password: "wrong password {i}"}})'
        " { token userErrors { code } }"
        for i in range(10)
    )
    body = await gql(client, f"mutation {{ {fields} }}")
    assert body["data"] is None
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert codes(await login(client, user.email, user.password)) == []


async def test_login_with_two_factor_requires_a_code(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    payload = await login(client, user.email, user.password)
    assert codes(payload) == ["TWO_FACTOR_REQUIRED"]
    assert payload["userErrors"][0]["field"] == ["input", "totpCode"]
    assert payload["token"] is None


async def test_login_with_a_wrong_code_is_refused(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    wrong = f"{(int(totp_code(user.seed, rt)) + 1) % 1_000_000:06d}"
    payload = await login(client, user.email, user.password, wrong)
    assert codes(payload) == ["INVALID_TWO_FACTOR_CODE"]
    assert payload["token"] is None


async def test_right_password_with_a_wrong_code_tells_the_owner(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    owner = await signed_up_user(client, rt)
    other = await signed_up_user(client, rt)
    assert owner.seed is not None
    heard = rt.hub.subscribe(lambda event: event.owner_id == owner.user_id)
    strangers = rt.hub.subscribe(lambda event: event.owner_id == other.user_id)
    wrong = f"{(int(totp_code(owner.seed, rt)) + 1) % 1_000_000:06d}"
    assert codes(await login(client, owner.email, owner.password, wrong)) == [
        "INVALID_TWO_FACTOR_CODE"
    ]
    event = heard.queue.get_nowait()
    assert (event.kind, event.client_ip, event.api_key_id) == (
        ActivityKind.TWO_FACTOR_FAILED,
        "127.0.0.1",
        None,
    )
    assert strangers.queue.empty()
    # A wrong password says nothing to the owner: it could be anyone's typo.
    assert codes(await login(client, owner.email, "not the password at all", wrong)) == [
        "INVALID_CREDENTIALS"
    ]
    assert heard.queue.empty()


async def test_wrong_password_with_two_factor_is_invalid_credentials(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    payload = await login(client, user.email, "wrong password guess", totp_code(user.seed, rt))
    assert codes(payload) == ["INVALID_CREDENTIALS"]


async def test_login_with_a_valid_code_succeeds(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    payload = await login(client, user.email, user.password, totp_code(user.seed, rt))
    assert payload["userErrors"] == []
    assert payload["user"]["twoFactorEnabled"] is True


async def test_concurrent_logins_with_one_code_yield_one_session(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    code = totp_code(user.seed, rt)
    before = await Session.filter(user_id=user.user_id).count()
    results = await asyncio.gather(
        *(login(client, user.email, user.password, code) for _ in range(20))
    )
    tokens = [r["token"] for r in results if r["token"] is not None]
    assert len(tokens) == 1
    assert {c for r in results for c in codes(r)} == {"INVALID_TWO_FACTOR_CODE"}
    assert await Session.filter(user_id=user.user_id).count() == before + 1


async def test_code_used_for_login_cannot_be_used_again(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    code = totp_code(user.seed, rt)
    assert codes(await login(client, user.email, user.password, code)) == []
    assert codes(await login(client, user.email, user.password, code)) == [
        "INVALID_TWO_FACTOR_CODE"
    ]
    with pytest.raises(DomainError) as caught:
        await two_factor.check_code(rt, user.user_id, code, LOCAL_CLIENT)
    assert caught.value.code is ErrorCode.INVALID_TWO_FACTOR_CODE
    # The next step's code works.
    assert codes(await login(client, user.email, user.password, next_code(user.seed, rt))) == []


async def test_a_reused_code_says_it_was_used_and_to_wait_for_the_next(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    code = totp_code(user.seed, rt)
    assert codes(await login(client, user.email, user.password, code)) == []
    reused = (await login(client, user.email, user.password, code))["userErrors"]
    other = f"{(int(code) + 1) % 1_000_000:06d}"
    wrong = (await login(client, user.email, user.password, other))["userErrors"]
    assert [e["code"] for e in reused] == [e["code"] for e in wrong] == ["INVALID_TWO_FACTOR_CODE"]
    assert "already used" in reused[0]["message"]
    assert "wait for the next code" in reused[0]["message"]
    assert "already used" not in wrong[0]["message"]


async def test_code_from_an_older_step_than_the_last_used_is_refused(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    now_code = totp_code(user.seed, rt, step_offset=1)
    older = totp_code(user.seed, rt)
    assert codes(await login(client, user.email, user.password, now_code)) == []
    assert codes(await login(client, user.email, user.password, older)) == [
        "INVALID_TWO_FACTOR_CODE"
    ]


async def test_recovery_code_logs_in_once(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    assert user.recovery_codes is not None
    recovery = user.recovery_codes[0]
    assert codes(await login(client, user.email, user.password, recovery)) == []
    assert codes(await login(client, user.email, user.password, recovery)) == [
        "INVALID_TWO_FACTOR_CODE"
    ]
    # Typed loosely (upper case, no dash) another code still works.
    other = user.recovery_codes[1].replace("-", "").upper()
    assert codes(await login(client, user.email, user.password, other)) == []


async def test_concurrent_logins_with_one_recovery_code_yield_one_session(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.recovery_codes is not None
    results = await asyncio.gather(
        *(login(client, user.email, user.password, user.recovery_codes[0]) for _ in range(5))
    )
    assert sum(r["token"] is not None for r in results) == 1


async def test_second_factor_locks_after_too_many_wrong_codes(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    good = totp_code(user.seed, rt)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(rt.settings.two_factor_max_failures):
        assert codes(await login(client, user.email, user.password, wrong)) == [
            "INVALID_TWO_FACTOR_CODE"
        ]
    # Locked: even the right code is not checked.
    assert codes(await login(client, user.email, user.password, good)) == ["TOO_MANY_ATTEMPTS"]
    rt.clock.advance(rt.settings.throttle_backoff_base_seconds + 1)
    assert codes(await login(client, user.email, user.password, totp_code(user.seed, rt))) == []


async def test_logout_ends_the_session_at_once(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    body = await gql(client, LOGOUT, token=user.token)
    assert body["data"]["logout"]["userErrors"] == []
    body = await gql(client, VIEWER, token=user.token)
    assert body["data"]["viewer"] is None


async def test_logout_leaves_other_sessions_alive(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    other = (await login(client, user.email, user.password))["token"]
    await gql(client, LOGOUT, token=user.token)
    body = await gql(client, VIEWER, token=other)
    assert body["data"]["viewer"]["email"] == user.email


async def test_logout_without_a_session_is_unauthenticated(client: httpx.AsyncClient) -> None:
    body = await gql(client, LOGOUT)
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_session_expires_when_idle(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    idle = rt.settings.session_idle_seconds
    rt.clock.advance(idle - 120)
    assert (await gql(client, VIEWER, token=user.token))["data"]["viewer"] is not None
    # That request refreshed the idle timer.
    rt.clock.advance(idle - 120)
    assert (await gql(client, VIEWER, token=user.token))["data"]["viewer"] is not None
    rt.clock.advance(idle + 1)
    assert (await gql(client, VIEWER, token=user.token))["data"]["viewer"] is None


async def test_session_expires_after_its_absolute_lifetime(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    step = rt.settings.session_idle_seconds - 120
    elapsed = 0
    while elapsed + step < rt.settings.session_absolute_seconds:
        rt.clock.advance(step)
        elapsed += step
        assert (await gql(client, VIEWER, token=user.token))["data"]["viewer"] is not None
    rt.clock.advance(rt.settings.session_absolute_seconds - elapsed + 1)
    assert (await gql(client, VIEWER, token=user.token))["data"]["viewer"] is None


async def test_login_rehashes_a_password_hashed_with_old_parameters(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    from passlib.context import CryptContext

    from gql_keys.models import User

    user = await signed_up_user(client, rt, two_factor=False)
    old = CryptContext(schemes=["argon2"], argon2__time_cost=1, argon2__memory_cost=512)
    await User.filter(id=user.user_id).update(password_hash=old.hash(user.password))
    assert codes(await login(client, user.email, user.password)) == []
    row = await User.get(id=user.user_id)
    assert not rt.passwords.needs_rehash(row.password_hash)
    assert codes(await login(client, user.email, user.password)) == []


async def test_concurrent_wrong_passwords_get_only_the_limit_checked(
    client: httpx.AsyncClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    limit = rt.settings.login_max_failures_per_account_and_address
    real_verify = rt.passwords.verify
    checked: list[str] = []

    async def counting_verify(password: str, stored: str | None) -> bool:
        checked.append(password)
        return await real_verify(password, stored)

    monkeypatch.setattr(rt.passwords, "verify", counting_verify)
    results = await asyncio.gather(
        *(login(client, user.email, f"wrong password guess {i}") for i in range(30))
    )
    answers = [code for r in results for code in codes(r)]
    assert answers.count("INVALID_CREDENTIALS") == limit
    assert answers.count("TOO_MANY_ATTEMPTS") == 30 - limit
    assert len(checked) == limit
    # Blocked now: even the right password is not looked at.
    assert codes(await login(client, user.email, user.password)) == ["TOO_MANY_ATTEMPTS"]
    assert len(checked) == limit
    rt.clock.advance(rt.settings.throttle_backoff_base_seconds + 1)
    assert codes(await login(client, user.email, user.password)) == []


async def test_concurrent_right_passwords_beyond_the_limit_all_log_in(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    count = rt.settings.login_max_failures_per_account_and_address * 2 + 5
    results = await asyncio.gather(
        *(login(client, user.email, user.password) for _ in range(count))
    )
    assert [codes(r) for r in results] == [[]] * count
    assert all(r["token"] is not None for r in results)


async def test_concurrent_wrong_passwords_from_one_address_get_only_its_limit_checked(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    limit = rt.settings.login_max_failures_per_address
    total = limit + 20
    per_account = rt.settings.login_max_failures_per_account_and_address // 2
    results = await asyncio.gather(
        *(
            login(client, f"spray-{i // per_account}@example.com", "wrong password guess")
            for i in range(total)
        )
    )
    answers = [code for r in results for code in codes(r)]
    assert answers.count("INVALID_CREDENTIALS") == limit
    assert answers.count("TOO_MANY_ATTEMPTS") == total - limit
    assert codes(await login(client, user.email, user.password)) == ["TOO_MANY_ATTEMPTS"]


async def test_concurrent_wrong_codes_get_only_the_limit_checked(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    limit = rt.settings.two_factor_max_failures
    good = totp_code(user.seed, rt)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    results = await asyncio.gather(
        *(login(client, user.email, user.password, wrong) for _ in range(30))
    )
    answers = [code for r in results for code in codes(r)]
    assert answers.count("INVALID_TWO_FACTOR_CODE") == limit
    assert answers.count("TOO_MANY_ATTEMPTS") == 30 - limit
    assert all(r["token"] is None for r in results)
    # Locked: even the right code is not checked (and so not used up).
    assert codes(await login(client, user.email, user.password, good)) == ["TOO_MANY_ATTEMPTS"]
    rt.clock.advance(rt.settings.throttle_backoff_base_seconds + 1)
    assert codes(await login(client, user.email, user.password, totp_code(user.seed, rt))) == []
