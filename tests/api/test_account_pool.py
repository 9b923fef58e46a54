"""The account-wide pool through ``/authz`` and ``verifyApiRequest``: every key of one
account (a master's own, or one sub-account's) shares one window besides its own."""

from __future__ import annotations

import httpx
import pytest

from gql_keys.models import ApiKey
from gql_keys.runtime import Runtime
from gql_keys.settings import Settings
from harness.authz import PartnerRequest, check
from harness.graphql import gql
from harness.keys import (
    VERIFY,
    create_active_key,
    create_sub_account,
    create_user,
    verifier_token,
    verify_input,
)
from harness.windows import start_of_window


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(account_rate_limit_requests=3, account_rate_limit_per_seconds=60)


async def ask(
    client: httpx.AsyncClient, rt: Runtime, row: ApiKey, secret: str, token: str
) -> httpx.Response:
    request = PartnerRequest(key=row.key, secret=secret, timestamp=f"{rt.clock.time():.4f}")
    request.headers["X-Real-IP"] = "203.0.113.7"
    return await check(client, "traefik", request, token)


def limits(response: httpx.Response) -> tuple[int, str, str]:
    h = response.headers
    return response.status_code, h["x-ratelimit-limit"], h["x-ratelimit-remaining"]


async def test_more_keys_do_not_buy_more_requests(client: httpx.AsyncClient, rt: Runtime) -> None:
    start_of_window(rt, 60)
    token = await verifier_token()
    master = await create_user()
    first, first_secret = await create_active_key(rt, master.id)
    second, second_secret = await create_active_key(rt, master.id)
    desk = await create_sub_account(rt, master.id)
    desk_key, desk_secret = await create_active_key(rt, master.id, sub_account_id=desk.id)
    stranger, stranger_secret = await create_active_key(rt, (await create_user()).id)

    answers = [
        await ask(client, rt, first, first_secret, token),
        await ask(client, rt, second, second_secret, token),
        await ask(client, rt, first, first_secret, token),
        await ask(client, rt, second, second_secret, token),
    ]
    # The pool (3 a minute) is tighter than each key's own 1,000: it is what is reported.
    assert [limits(a) for a in answers] == [
        (200, "3", "2"),
        (200, "3", "1"),
        (200, "3", "0"),
        (429, "3", "0"),
    ]
    assert answers[-1].headers["x-verification-code"] == "RATE_LIMITED"
    assert int(answers[-1].headers["retry-after"]) > 50

    # A sub-account is an account of its own, and another master's keys are untouched.
    assert limits(await ask(client, rt, desk_key, desk_secret, token)) == (200, "3", "2")
    assert limits(await ask(client, rt, stranger, stranger_secret, token)) == (200, "3", "2")

    # verifyApiRequest reports the same pool.
    body = await gql(
        client,
        VERIFY,
        {"input": verify_input(first.key, first_secret, now=rt.clock.time())},
        token=token,
    )
    result = body["data"]["verifyApiRequest"]
    assert (result["code"], result["rateLimit"]["limit"], result["rateLimit"]["remaining"]) == (
        "RATE_LIMITED",
        3,
        0,
    )


async def test_a_keys_own_limit_is_reported_when_it_is_the_tighter(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    start_of_window(rt, 60)
    token = await verifier_token()
    row, secret = await create_active_key(rt, (await create_user()).id, rate_limit=(1, 60))
    assert limits(await ask(client, rt, row, secret, token)) == (200, "1", "0")
    refused = await ask(client, rt, row, secret, token)
    assert limits(refused) == (429, "1", "0")
