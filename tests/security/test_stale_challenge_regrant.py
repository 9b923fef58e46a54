"""Confirming an old challenge after the key changed: an UPDATE_KEY challenge stores the
values it applies, so confirming it after a later narrowing silently undid the narrowing
(``[SPOT_WRITE, WITHDRAW]``, ask to add ``WALLET_READ``, narrow to ``[SPOT_WRITE]``,
confirm: ``[SPOT_WRITE, WALLET_READ, WITHDRAW]``). Each change or roll challenge is now
bound to the key's revision: once the key changed, confirming it is
``CHALLENGE_EXPIRED`` and changes nothing."""

from __future__ import annotations

import httpx
import pytest

from gql_keys.runtime import Runtime
from gql_keys.settings import Settings
from harness.accounts import TestUser, next_code, signed_up_user
from harness.keys import verifier_token
from tests.api.key_changes_support import confirm, get_key, roll, update, verify_code
from tests.api.test_keys import new_key


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """WITHDRAW in force at once: its cooling-off has tests of its own."""
    return settings.with_overrides(withdraw_cooling_off_seconds=0)


WITHDRAWER = {"scopes": ["SPOT_WRITE", "WITHDRAW"], "ipAllowlist": ["203.0.113.7"]}


async def code(user: TestUser, rt: Runtime) -> str:
    assert user.seed is not None
    return next_code(user.seed, rt)


async def test_a_widening_confirmed_after_a_narrowing_does_not_undo_it(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    key = (await new_key(client, rt, user, label="bot", **WITHDRAWER))["apiKey"]
    asked = await update(client, user, key["id"], scopes=["SPOT_WRITE", "WITHDRAW", "WALLET_READ"])
    assert asked["challenge"]["purpose"] == "UPDATE_KEY"
    narrowed = await update(client, user, key["id"], scopes=["SPOT_WRITE"])
    assert narrowed["apiKey"]["scopes"] == ["SPOT_WRITE"]

    confirmed = await confirm(client, user, asked["challenge"]["id"], await code(user, rt))
    assert [e["code"] for e in confirmed["userErrors"]] == ["CHALLENGE_EXPIRED"]
    assert confirmed["apiKey"] is None
    assert (await get_key(client, user, key["id"]))["scopes"] == ["SPOT_WRITE"]


async def test_a_roll_confirmed_after_another_change_keeps_the_secret(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    created = await new_key(client, rt, user, label="bot", **WITHDRAWER)
    key, secret = created["apiKey"], created["secret"]
    rolling = await roll(client, user, key["id"], overlapSeconds=0)
    assert (await update(client, user, key["id"], label="renamed"))["apiKey"]["label"] == "renamed"

    confirmed = await confirm(client, user, rolling["challenge"]["id"], await code(user, rt))
    assert [e["code"] for e in confirmed["userErrors"]] == ["CHALLENGE_EXPIRED"]
    assert confirmed["secret"] is None
    token = await verifier_token()
    assert await verify_code(client, rt, token, key["key"], secret, required_scope="SPOT_READ") == (
        "VALID"
    )


async def test_of_two_open_changes_only_the_first_confirmed_applies(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    key = (await new_key(client, rt, user, label="bot", **WITHDRAWER))["apiKey"]
    first = await update(client, user, key["id"], scopes=["SPOT_WRITE", "WITHDRAW", "WALLET_READ"])
    second = await update(
        client, user, key["id"], scopes=["SPOT_WRITE", "WITHDRAW", "FUTURES_READ"]
    )
    applied = await confirm(client, user, first["challenge"]["id"], await code(user, rt))
    assert applied["userErrors"] == []
    stale = await confirm(client, user, second["challenge"]["id"], await code(user, rt))
    assert [e["code"] for e in stale["userErrors"]] == ["CHALLENGE_EXPIRED"]
    assert sorted((await get_key(client, user, key["id"]))["scopes"]) == [
        "SPOT_WRITE",
        "WALLET_READ",
        "WITHDRAW",
    ]
    # A challenge opened after the change confirms as usual.
    fresh = await update(client, user, key["id"], scopes=["SPOT_WRITE", "WITHDRAW", "FUTURES_READ"])
    done = await confirm(client, user, fresh["challenge"]["id"], await code(user, rt))
    assert done["userErrors"] == []
    assert sorted(done["apiKey"]["scopes"]) == ["FUTURES_READ", "SPOT_WRITE", "WITHDRAW"]
