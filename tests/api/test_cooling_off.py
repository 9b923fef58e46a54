"""Cooling-off before withdrawals: WITHDRAW granted to a key (new or updated), or a wider
allowlist on a key holding it, takes effect only after GQL_KEYS_WITHDRAW_COOLING_OFF_SECONDS;
until then the key verifies as before, ``pendingChange`` shows what comes, and the owner
may cancel it."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest

from gql_keys.broker.events import ActivityKind
from gql_keys.clock import Clock
from gql_keys.runtime import Runtime
from gql_keys.services import cooling_off
from gql_keys.settings import Settings
from harness.accounts import TestUser, next_code, signed_up_user
from harness.apps import serving
from harness.keys import verifier_token
from tests.api.key_changes_support import drain, update, verify_code
from tests.api.key_safety_support import CANCEL, confirm, key_state, mutate, security_kinds
from tests.api.test_keys import new_key

COOLING_OFF = 600
DESK = "203.0.113.7"
WITHDRAWAL: dict[str, Any] = {
    "method": "POST",
    "path": "/api/v4/withdrawals",
    "query": "",
    "required_scope": "WITHDRAW",
    "client_ip": DESK,
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(withdraw_cooling_off_seconds=COOLING_OFF)


async def withdrawal(
    client: httpx.AsyncClient, rt: Runtime, key: dict[str, Any], secret: str, **changes: Any
) -> str:
    """The code a gateway gets for a withdrawal signed now (each one a fresh request)."""
    request = {**WITHDRAWAL, "timestamp": f"{rt.clock.time():.6f}", **changes}
    token = await verifier_token(f"gateway-{rt.clock.time():.6f}")
    return await verify_code(client, rt, token, key["key"], secret, **request)


def effective_in(pending: dict[str, Any], rt: Runtime) -> float:
    return (datetime.fromisoformat(pending["effectiveAt"]) - rt.clock.now()).total_seconds()


async def withdrawing_key(
    client: httpx.AsyncClient, rt: Runtime, user: TestUser
) -> tuple[dict[str, Any], str]:
    created = await new_key(client, rt, user, scopes=["SPOT_WRITE", "WITHDRAW"], ipAllowlist=[DESK])
    return created["apiKey"], created["secret"]


async def test_a_new_key_withdraws_only_after_the_cooling_off(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    uses = (ActivityKind.KEY_USED, ActivityKind.KEY_DENIED)
    subscriber = rt.hub.subscribe(
        lambda event: event.owner_id == user.user_id and event.kind not in uses
    )
    key, secret = await withdrawing_key(client, rt, user)
    assert key["scopes"] == ["SPOT_WRITE"]
    assert [e.kind for e in drain(subscriber)] == [
        ActivityKind.KEY_CREATED,
        ActivityKind.KEY_CHANGE_PENDING,
    ]
    pending = (await key_state(client, user, key["id"]))["pendingChange"]
    assert pending["scopes"] == ["SPOT_WRITE", "WITHDRAW"]
    assert pending["ipAllowlist"] == [DESK]
    assert abs(effective_in(pending, rt) - COOLING_OFF) < 5
    assert await withdrawal(client, rt, key, secret) == "SCOPE_NOT_GRANTED"
    trade = {"path": "/api/v4/spot/orders", "required_scope": "SPOT_WRITE"}
    assert await withdrawal(client, rt, key, secret, **trade) == "VALID"

    rt.clock.advance(COOLING_OFF - 5)
    assert await cooling_off.apply_due(rt) == 0
    assert await withdrawal(client, rt, key, secret) == "SCOPE_NOT_GRANTED"
    rt.clock.advance(10)
    # Applied by this call or by the server's own sweep, which now sees it due too.
    await cooling_off.apply_due(rt)
    assert await cooling_off.apply_due(rt) == 0
    state = await key_state(client, user, key["id"])
    assert (state["scopes"], state["pendingChange"]) == (["SPOT_WRITE", "WITHDRAW"], None)
    assert await withdrawal(client, rt, key, secret) == "VALID"
    assert [e.kind for e in drain(subscriber)] == [ActivityKind.KEY_UPDATED]  # once
    kinds = await security_kinds(user.user_id)
    assert kinds[-3:] == ["KEY_CREATED", "KEY_CHANGE_PENDING", "KEY_UPDATED"]
    rt.hub.unsubscribe(subscriber)


async def test_cancelling_drops_the_pending_change_at_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    key, secret = await withdrawing_key(client, rt, user)
    payload = await mutate(client, user, CANCEL, key["id"])
    assert payload["userErrors"] == []
    assert payload["apiKey"]["pendingChange"] is None
    assert payload["apiKey"]["scopes"] == ["SPOT_WRITE"]
    rt.clock.advance(COOLING_OFF + 1)
    assert await cooling_off.apply_due(rt) == 0
    assert await withdrawal(client, rt, key, secret) == "SCOPE_NOT_GRANTED"
    again = await mutate(client, user, CANCEL, key["id"])
    assert [e["code"] for e in again["userErrors"]] == ["INVALID_INPUT"]
    assert (await security_kinds(user.user_id))[-1] == "KEY_CHANGE_CANCELLED"


async def test_withdraw_granted_by_an_update_cools_off_while_the_rest_applies_at_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    created = await new_key(client, rt, user, scopes=["SPOT_READ"], ipAllowlist=[DESK])
    key, secret = created["apiKey"], created["secret"]
    challenge = (await update(client, user, key["id"], scopes=["SPOT_WRITE", "WITHDRAW"]))[
        "challenge"
    ]
    confirmed = await confirm(client, user, challenge["id"], next_code(user.seed, rt))
    assert confirmed["apiKey"]["scopes"] == ["SPOT_WRITE"]  # trading now
    assert confirmed["apiKey"]["pendingChange"]["scopes"] == ["SPOT_WRITE", "WITHDRAW"]
    assert await withdrawal(client, rt, key, secret) == "SCOPE_NOT_GRANTED"
    # A new label is no new grant: the pending change keeps its time.
    before = confirmed["apiKey"]["pendingChange"]["effectiveAt"]
    rt.clock.advance(60)
    relabelled = await update(client, user, key["id"], label="desk bot")
    assert relabelled["challenge"] is None
    assert relabelled["apiKey"]["scopes"] == ["SPOT_WRITE"]
    assert (await key_state(client, user, key["id"]))["pendingChange"]["effectiveAt"] == before
    # Dropping WITHDRAW narrows what was confirmed: at once, and the pending change goes.
    narrowed = await update(client, user, key["id"], scopes=["SPOT_WRITE"])
    assert narrowed["challenge"] is None
    assert (await key_state(client, user, key["id"]))["pendingChange"] is None
    assert (await security_kinds(user.user_id))[-2:] == ["KEY_CHANGE_CANCELLED", "KEY_UPDATED"]


async def test_a_wider_allowlist_on_a_withdrawing_key_waits_and_the_old_one_holds(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    key, secret = await withdrawing_key(client, rt, user)
    rt.clock.advance(COOLING_OFF + 1)
    await cooling_off.apply_due(rt)
    assert await withdrawal(client, rt, key, secret) == "VALID"
    office = "198.51.100.9"
    challenge = (await update(client, user, key["id"], ipAllowlist=[DESK, office]))["challenge"]
    confirmed = await confirm(client, user, challenge["id"], next_code(user.seed, rt))
    assert confirmed["apiKey"]["ipAllowlist"] == [DESK]
    assert confirmed["apiKey"]["pendingChange"]["ipAllowlist"] == [DESK, office]
    assert await withdrawal(client, rt, key, secret, client_ip=office) == "IP_NOT_ALLOWED"
    assert await withdrawal(client, rt, key, secret) == "VALID"
    rt.clock.advance(COOLING_OFF + 1)
    await cooling_off.apply_due(rt)
    assert await withdrawal(client, rt, key, secret, client_ip=office) == "VALID"


async def test_with_cooling_off_off_withdraw_applies_at_once(
    settings: Settings, clock: Clock
) -> None:
    off = settings.with_overrides(withdraw_cooling_off_seconds=0)
    async with serving(off, clock) as (rt, client):
        user = await signed_up_user(client, rt)
        key, secret = await withdrawing_key(client, rt, user)
        assert key["scopes"] == ["SPOT_WRITE", "WITHDRAW"]
        assert (await key_state(client, user, key["id"]))["pendingChange"] is None
        assert await withdrawal(client, rt, key, secret) == "VALID"


async def test_the_sweep_applies_a_due_change_by_itself(settings: Settings, clock: Clock) -> None:
    """The server's own loop: woken by the change it started, it applies it when due."""
    one_second = settings.with_overrides(withdraw_cooling_off_seconds=1)
    async with serving(one_second, clock) as (rt, client):
        user = await signed_up_user(client, rt)
        subscriber = rt.hub.subscribe(lambda event: event.kind is ActivityKind.KEY_UPDATED)
        key, secret = await withdrawing_key(client, rt, user)
        event = await asyncio.wait_for(subscriber.next(), 10)
        assert event.key == key["key"]
        assert await withdrawal(client, rt, key, secret) == "VALID"
        assert (await key_state(client, user, key["id"]))["pendingChange"] is None
        rt.hub.unsubscribe(subscriber)
