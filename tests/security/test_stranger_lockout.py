"""A stranger could lock an owner out: ten wrong passwords from anywhere locked the
account for everyone. Failures now count per (account, client address) at the old
limit and per account across all addresses at a higher one, so one address cannot
lock the owner out from theirs; reserve-before-check still holds per pair."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from gql_keys.app import create_app, runtime_of
from gql_keys.clock import Clock
from gql_keys.runtime import Runtime
from gql_keys.settings import Settings
from harness.accounts import signed_up_user
from harness.databases import truncate_all
from tests.api.test_login import codes, login


@pytest.fixture
async def stranger(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.66", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_ten_wrong_passwords_from_a_stranger_do_not_lock_the_owner_out(
    client: httpx.AsyncClient, stranger: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    for _ in range(10):
        assert codes(await login(stranger, user.email, "wrong password")) == ["INVALID_CREDENTIALS"]
    # The stranger's address is locked out of this account ...
    assert codes(await login(stranger, user.email, user.password)) == ["TOO_MANY_ATTEMPTS"]
    # ... the owner, from their own address, is not.
    assert codes(await login(client, user.email, user.password)) == []


async def test_concurrent_guesses_from_one_address_check_at_most_the_limit(
    client: httpx.AsyncClient, stranger: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    results = await asyncio.gather(*(login(stranger, user.email, f"wrong {i}") for i in range(25)))
    checked = [r for r in results if codes(r) == ["INVALID_CREDENTIALS"]]
    assert len(checked) <= rt.settings.login_max_failures_per_account_and_address
    assert codes(await login(client, user.email, user.password)) == []


async def test_failures_from_many_addresses_lock_the_account_at_the_higher_limit(
    settings: Settings, clock: Clock
) -> None:
    application = create_app(
        settings.with_overrides(
            login_max_failures_per_account=5, login_max_failures_per_account_and_address=10
        ),
        clock,
    )

    def client_from(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=application, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async with application.router.lifespan_context(application):
        await truncate_all()
        async with client_from("127.0.0.1") as owner:
            user = await signed_up_user(owner, runtime_of(application), two_factor=False)
            for i in range(5):
                async with client_from(f"198.51.100.{i}") as other:
                    assert codes(await login(other, user.email, "wrong")) == ["INVALID_CREDENTIALS"]
            assert codes(await login(owner, user.email, user.password)) == ["TOO_MANY_ATTEMPTS"]
