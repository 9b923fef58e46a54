"""A challenge's attempt count was checked before the code and incremented after, so
concurrent wrong codes could get more than ``challenge_max_attempts`` codes judged
(only the account's TOTP throttle bounded them). An attempt is now taken by one
conditional update before the code is looked at."""

from __future__ import annotations

import asyncio

from gql_keys.app import runtime_of
from harness.accounts import signed_up_user, totp_code
from tests.api.test_keys import create, raw_rows, verify
from tests.security.conftest import AppFactory


async def test_concurrent_wrong_codes_get_at_most_the_challenge_limit_judged(
    make_app: AppFactory,
) -> None:
    # The account-wide TOTP throttle is set out of the way: the challenge's own limit
    # must hold by itself.
    async with make_app(two_factor_max_failures=1000) as (app, client):
        rt = runtime_of(app)
        user = await signed_up_user(client, rt)
        challenge = (await create(client, user))["challenge"]["id"]
        assert user.seed is not None
        # Codes the server would accept are left out: it takes one step either side of its
        # clock, and that clock may reach the next step while the codes are judged.
        live = {totp_code(user.seed, rt, offset) for offset in range(-1, 3)}
        wrong = [code for code in (f"{i:06d}" for i in range(40)) if code not in live][:30]
        results = await asyncio.gather(*(verify(client, user, challenge, code) for code in wrong))
        codes = [e["code"] for r in results for e in r["userErrors"]]
        limit = rt.settings.challenge_max_attempts
        (row,) = await raw_rows("key_challenges")
        assert row["attempts"] <= limit
        assert codes.count("INVALID_TWO_FACTOR_CODE") <= limit - 1
        assert codes.count("TOO_MANY_ATTEMPTS") >= 30 - limit
