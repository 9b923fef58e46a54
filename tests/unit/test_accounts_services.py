"""The accounts services on real databases: check_code, throttling, sessions."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import ThrottleCounter, User
from gql_keys.runtime import Runtime
from gql_keys.services import sessions, throttle, two_factor
from gql_keys.services.security_events import ClientInfo
from harness.accounts import LOCAL_CLIENT, next_code, signed_up_user, totp_code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_check_code_accepts_a_fresh_code_once(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    code = totp_code(user.seed, rt)
    await two_factor.check_code(rt, user.user_id, code, LOCAL_CLIENT)
    with pytest.raises(DomainError) as caught:
        await two_factor.check_code(rt, user.user_id, code, LOCAL_CLIENT)
    assert caught.value.code is ErrorCode.INVALID_TWO_FACTOR_CODE
    assert caught.value.field == ("input", "code")
    await two_factor.check_code(rt, user.user_id, next_code(user.seed, rt), LOCAL_CLIENT)


async def test_check_code_reports_the_given_field(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    with pytest.raises(DomainError) as caught:
        await two_factor.check_code(
            rt, user.user_id, wrong(totp_code(user.seed, rt)), LOCAL_CLIENT, field=("input", "totp")
        )
    assert caught.value.field == ("input", "totp")


async def test_check_code_needs_two_factor_enabled(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    with pytest.raises(DomainError) as caught:
        await two_factor.check_code(rt, user.user_id, "123456", LOCAL_CLIENT)
    assert caught.value.code is ErrorCode.TWO_FACTOR_NOT_ENABLED


async def test_concurrent_checks_of_one_code_pass_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    code = totp_code(user.seed, rt)
    results = await asyncio.gather(
        *(two_factor.check_code(rt, user.user_id, code, LOCAL_CLIENT) for _ in range(20)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(
        isinstance(r, DomainError) and r.code is ErrorCode.INVALID_TWO_FACTOR_CODE
        for r in results
        if r is not None
    )


async def test_replayed_right_codes_do_not_lock_the_account(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    code = totp_code(user.seed, rt)
    await two_factor.check_code(rt, user.user_id, code, LOCAL_CLIENT)
    for _ in range(rt.settings.two_factor_max_failures + 2):
        with pytest.raises(DomainError):
            await two_factor.check_code(rt, user.user_id, code, LOCAL_CLIENT)
    await two_factor.check_code(rt, user.user_id, next_code(user.seed, rt), LOCAL_CLIENT)


async def test_wrong_codes_lock_the_second_factor_with_growing_back_off(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    limit = rt.settings.two_factor_max_failures
    base = rt.settings.throttle_backoff_base_seconds

    async def fail_until_locked() -> None:
        assert user.seed is not None
        for _ in range(limit):
            with pytest.raises(DomainError) as caught:
                await two_factor.check_code(
                    rt, user.user_id, wrong(totp_code(user.seed, rt)), LOCAL_CLIENT
                )
            assert caught.value.code is ErrorCode.INVALID_TWO_FACTOR_CODE

    async def code_result() -> ErrorCode | None:
        assert user.seed is not None
        try:
            await two_factor.check_code(rt, user.user_id, next_code(user.seed, rt), LOCAL_CLIENT)
        except DomainError as exc:
            return exc.code
        return None

    await fail_until_locked()
    # next_code moves the clock 30 s: still inside the first 60 s block.
    assert await code_result() is ErrorCode.TOO_MANY_ATTEMPTS
    rt.clock.advance(base)
    await fail_until_locked()
    # The second block lasts twice as long.
    rt.clock.advance(base)
    assert await code_result() is ErrorCode.TOO_MANY_ATTEMPTS
    rt.clock.advance(base)
    assert await code_result() is None
    counter = await ThrottleCounter.get(subject=f"totp:{user.user_id}")
    assert counter.strikes == 0  # forgotten after a success


async def test_wrong_codes_are_counted_across_concurrent_requests(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    bad = wrong(totp_code(user.seed, rt))
    await asyncio.gather(
        *(two_factor.check_code(rt, user.user_id, bad, LOCAL_CLIENT) for _ in range(25)),
        return_exceptions=True,
    )
    with pytest.raises(DomainError) as caught:
        await two_factor.check_code(rt, user.user_id, totp_code(user.seed, rt), LOCAL_CLIENT)
    assert caught.value.code is ErrorCode.TOO_MANY_ATTEMPTS


async def test_backoff_is_capped(rt: Runtime) -> None:
    assert throttle.backoff_seconds(rt, 0) == rt.settings.throttle_backoff_base_seconds
    assert throttle.backoff_seconds(rt, 1) == 2 * rt.settings.throttle_backoff_base_seconds
    assert throttle.backoff_seconds(rt, 1000) == rt.settings.throttle_backoff_max_seconds


async def test_throttle_blocks_once_per_run_of_concurrent_failures(rt: Runtime) -> None:
    limit = throttle.Limit(max_failures=5, window_seconds=600)
    await asyncio.gather(*(throttle.record_failure(rt, "test:x", limit) for _ in range(9)))
    counter = await ThrottleCounter.get(subject="test:x")
    assert counter.strikes == 1
    assert counter.blocked_until is not None
    with pytest.raises(DomainError) as caught:
        await throttle.ensure_not_blocked(rt, ["test:y", "test:x"])
    assert caught.value.code is ErrorCode.TOO_MANY_ATTEMPTS


async def test_login_rejects_unknown_email_like_wrong_password(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    errors = []
    for email, password in [(user.email, "wrong password guess"), ("x@example.com", "whatever")]:
        with pytest.raises(DomainError) as caught:
            await sessions.login(rt, email, password, None, ClientInfo("198.51.100.7"))
        errors.append((caught.value.code, caught.value.message, caught.value.field))
    assert errors[0] == errors[1]


async def test_login_stores_only_the_token_digest(client: httpx.AsyncClient, rt: Runtime) -> None:
    from gql_keys.models import Session
    from gql_keys.security.tokens import token_digest

    user = await signed_up_user(client, rt, two_factor=False)
    result = await sessions.login(rt, user.email, user.password, None, ClientInfo("198.51.100.7"))
    assert await Session.filter(token_digest=token_digest(result.token)).exists()
    assert not await Session.filter(token_digest=result.token).exists()
    assert (await User.get(id=user.user_id)).email == user.email


async def test_replayed_right_code_gives_its_attempt_back(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    code = totp_code(user.seed, rt)
    with pytest.raises(DomainError):
        await two_factor.check_code(rt, user.user_id, wrong(code), LOCAL_CLIENT)
    await two_factor.check_code(rt, user.user_id, code, LOCAL_CLIENT)
    for _ in range(rt.settings.two_factor_max_failures + 5):
        with pytest.raises(DomainError) as caught:
            await two_factor.check_code(rt, user.user_id, code, LOCAL_CLIENT)
        assert caught.value.code is ErrorCode.INVALID_TWO_FACTOR_CODE
    counter = await ThrottleCounter.get(subject=two_factor.subject_for(user.user_id))
    assert counter.failures == 0
    assert counter.blocked_until is None


async def test_attempts_in_flight_count_towards_the_limit(rt: Runtime) -> None:
    limit = throttle.Limit(max_failures=3, window_seconds=600)
    held = [await throttle.reserve(rt, "test:r", limit) for _ in range(3)]
    waiting = asyncio.create_task(throttle.reserve(rt, "test:r", limit))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    # A right answer gives its attempt back: the waiting request gets it.
    await throttle.release(held[:1])
    assert (await asyncio.wait_for(waiting, 10)).subject == "test:r"
    counter = await ThrottleCounter.get(subject="test:r")
    assert counter.failures == 3
    # A wrong answer with the subject full blocks it; the others are then refused at once.
    await throttle.failed(rt, held[1:2])
    with pytest.raises(DomainError) as caught:
        await throttle.reserve(rt, "test:r", limit)
    assert caught.value.code is ErrorCode.TOO_MANY_ATTEMPTS


async def test_attempts_never_settled_block_the_subject_after_the_wait(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "RESERVE_WAIT_SECONDS", 0.05)
    limit = throttle.Limit(max_failures=2, window_seconds=600)
    held = [await throttle.reserve(rt, "test:s", limit) for _ in range(2)]
    with pytest.raises(DomainError) as caught:
        await throttle.reserve(rt, "test:s", limit)
    assert caught.value.code is ErrorCode.TOO_MANY_ATTEMPTS
    counter = await ThrottleCounter.get(subject="test:s")
    assert counter.blocked_until is not None
    assert counter.strikes == 1
    # Giving back attempts of the run that was blocked gives nothing to the next run.
    await throttle.release(held)
    rt.clock.advance(rt.settings.throttle_backoff_base_seconds + 1)
    await throttle.reserve(rt, "test:s", limit)
    await throttle.reserve(rt, "test:s", limit)
    counter = await ThrottleCounter.get(subject="test:s")
    assert counter.failures == 2


async def test_reservation_restarts_a_passed_window(rt: Runtime) -> None:
    limit = throttle.Limit(max_failures=2, window_seconds=600)
    await throttle.failed(rt, [await throttle.reserve(rt, "test:w", limit)])
    rt.clock.advance(601)
    # The failure of the old window is forgotten: two attempts again, not one.
    await throttle.reserve(rt, "test:w", limit)
    await throttle.reserve(rt, "test:w", limit)
    counter = await ThrottleCounter.get(subject="test:w")
    assert counter.failures == 2
    assert counter.blocked_until is None
