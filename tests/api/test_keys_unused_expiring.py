"""apiKeys(unusedForDays:) and the once-only KEY_EXPIRING notice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from gql_keys.broker.events import ActivityKind
from gql_keys.principals import ServicePrincipal, ServiceRole, UserPrincipal
from gql_keys.runtime import Runtime, build_runtime
from gql_keys.services.activity import activity_filter
from gql_keys.services.expiry_notices import notify_expiring
from harness.accounts import TestUser, login_token, next_code, signed_up_user
from harness.graphql import error_codes, gql
from harness.keys import verifier_token
from tests.api.key_changes_support import confirm, drain, pk, update, verify_code
from tests.api.test_keys import DELETE, new_key, raw_rows

UNUSED = """
query ($days: Int, $first: Int, $after: String) {
  apiKeys(unusedForDays: $days, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id label lastUsedAt }
  }
}
"""


async def unused(
    client: httpx.AsyncClient, user: TestUser, days: int, **page: Any
) -> dict[str, Any]:
    body = await gql(client, UNUSED, {"days": days, **page}, token=user.token)
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["apiKeys"]
    return connection


async def relogin(client: httpx.AsyncClient, rt: Runtime, user: TestUser) -> None:
    """Sessions end after 12 hours: log in again after moving the clock by days."""
    assert user.seed is not None
    user.token = await login_token(client, user.email, user.password, next_code(user.seed, rt))


async def test_unused_for_days_lists_live_keys_without_a_recent_allowed_request(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    token = await verifier_token()
    keys = {}
    for label in ("used lately", "used long ago", "never used", "deleted"):
        keys[label] = await new_key(client, rt, user, label=label, ipAllowlist=["203.0.113.7"])
    used_long_ago = keys["used long ago"]
    assert (
        await verify_code(
            client, rt, token, used_long_ago["apiKey"]["key"], used_long_ago["secret"]
        )
        == "VALID"
    )
    rt.clock.advance(timedelta(days=40).total_seconds())
    await relogin(client, rt, user)
    lately = keys["used lately"]
    assert (
        await verify_code(client, rt, token, lately["apiKey"]["key"], lately["secret"]) == "VALID"
    )
    # A denied request is not a use.
    assert (
        await verify_code(
            client,
            rt,
            token,
            used_long_ago["apiKey"]["key"],
            used_long_ago["secret"],
            client_ip="198.51.100.1",
        )
        == "IP_NOT_ALLOWED"
    )
    await gql(client, DELETE, {"input": {"id": keys["deleted"]["apiKey"]["id"]}}, token=user.token)
    await new_key(client, rt, user, label="new and unused", ipAllowlist=["203.0.113.7"])

    listing = await unused(client, user, 30)
    assert [n["label"] for n in listing["nodes"]] == ["never used", "used long ago"]
    assert listing["totalCount"] == 2
    assert listing["nodes"][1]["lastUsedAt"] is not None
    assert [n["label"] for n in (await unused(client, user, 41))["nodes"]] == []
    everything = await unused(client, user, 0)
    assert everything["totalCount"] == 4
    first = await unused(client, user, 30, first=1)
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await unused(client, user, 30, first=1, after=first["pageInfo"]["endCursor"])
    assert [n["label"] for n in rest["nodes"]] == ["used long ago"]


async def test_unused_for_days_sees_only_the_callers_keys_and_refuses_negative_days(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    owner = await signed_up_user(client, rt)
    other = await signed_up_user(client, rt)
    await new_key(client, rt, owner)
    assert (await unused(client, owner, 0))["totalCount"] == 1
    assert (await unused(client, other, 0))["totalCount"] == 0
    body = await gql(client, UNUSED, {"days": -1}, token=owner.token)
    assert error_codes(body) == ["INVALID_INPUT"]


async def expiring_key(
    client: httpx.AsyncClient, rt: Runtime, user: TestUser, days: float
) -> dict[str, Any]:
    expires = rt.clock.now() + timedelta(days=days)
    key: dict[str, Any] = (await new_key(client, rt, user, expiresAt=expires.isoformat()))["apiKey"]
    return key


async def test_key_expiring_is_sent_once_to_the_owner_and_monitors_when_the_window_opens(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    owner = await signed_up_user(client, rt)
    stranger = await signed_up_user(client, rt)
    key = await expiring_key(client, rt, owner, days=10)
    far = await expiring_key(client, rt, owner, days=30)
    owner_sub = rt.hub.subscribe(await activity_filter(UserPrincipal(owner.user_id, 0), None, None))
    monitor = ServicePrincipal(token_id=1, name="monitor", role=ServiceRole.MONITOR)
    monitor_sub = rt.hub.subscribe(
        await activity_filter(monitor, None, {ActivityKind.KEY_EXPIRING})
    )
    stranger_sub = rt.hub.subscribe(
        await activity_filter(UserPrincipal(stranger.user_id, 0), None, None)
    )
    try:
        assert await notify_expiring(rt) == 0
        rt.clock.advance(timedelta(days=3, hours=1).total_seconds())
        assert await notify_expiring(rt) == 1
        assert await notify_expiring(rt) == 0
        for subscriber in (owner_sub, monitor_sub):
            events = drain(subscriber)
            assert [(e.kind, e.api_key_id, e.key) for e in events] == [
                (ActivityKind.KEY_EXPIRING, pk(key["id"]), key["key"])
            ]
        assert drain(stranger_sub) == []
    finally:
        for subscriber in (owner_sub, monitor_sub, stranger_sub):
            rt.hub.unsubscribe(subscriber)
    rows = {r["id"]: r for r in await raw_rows("api_keys")}
    assert rows[pk(key["id"])]["expiry_notified_at"] is not None
    assert rows[pk(far["id"])]["expiry_notified_at"] is None


async def test_two_workers_racing_send_key_expiring_exactly_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    keys = [await expiring_key(client, rt, user, days=2) for _ in range(3)]
    # A second worker: its own runtime and broker, the same database.
    other = build_runtime(rt.settings, rt.clock)
    await other.broker.start(other.hub)
    subscribers = [rt.hub.subscribe(lambda e: True), other.hub.subscribe(lambda e: True)]
    counts = await asyncio.gather(
        *(notify_expiring(worker) for worker in (rt, other, rt, other, rt, other))
    )
    assert sum(counts) == 3
    events = drain(subscribers[0]) + drain(subscribers[1])
    assert sorted(e.api_key_id or 0 for e in events) == sorted(pk(k["id"]) for k in keys)
    assert all(e.kind is ActivityKind.KEY_EXPIRING for e in events)
    # A restarted worker finds every claim in the database.
    restarted = build_runtime(rt.settings, rt.clock)
    assert await notify_expiring(restarted) == 0
    other.passwords.close()
    restarted.passwords.close()


async def test_a_key_moved_out_of_the_window_is_announced_again_when_it_re_enters(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    key = await expiring_key(client, rt, user, days=5)
    assert await notify_expiring(rt) == 1
    later = rt.clock.now() + timedelta(days=20)
    challenge = (await update(client, user, key["id"], expiresAt=later.isoformat()))["challenge"]
    await confirm(client, user, challenge["id"], next_code(user.seed, rt))
    assert await notify_expiring(rt) == 0
    rt.clock.advance(timedelta(days=14).total_seconds())
    assert await notify_expiring(rt) == 1
    # An earlier expiry inside the window does not announce the key a second time.
    await relogin(client, rt, user)
    sooner = rt.clock.now() + timedelta(days=2)
    assert (await update(client, user, key["id"], expiresAt=sooner.isoformat()))["apiKey"]
    assert await notify_expiring(rt) == 0
