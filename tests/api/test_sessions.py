"""``sessions`` and ``revokeSession``: the viewer's live sessions, and ending one at once."""

from __future__ import annotations

from datetime import datetime

import httpx

from gql_keys.global_ids import encode_global_id
from gql_keys.runtime import Runtime
from harness.accounts import TestUser, next_code, signed_up_user
from harness.graphql import error_codes, gql
from tests.api.security_support import (
    CLIENT_IP,
    LOGOUT,
    NODE,
    REVOKE_SESSION,
    SESSIONS,
    USER_AGENT,
    EventLog,
    call,
    error_codes_of,
    login,
    mutate,
)

VIEWER = "{ viewer { id } }"


async def browser_login(client: httpx.AsyncClient, rt: Runtime, user: TestUser) -> str:
    assert user.seed is not None
    payload = await login(client, user.email, user.password, next_code(user.seed, rt))
    assert payload["userErrors"] == [], payload
    token: str = payload["token"]
    return token


async def sessions_of(client: httpx.AsyncClient, token: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = (await call(client, SESSIONS, token=token))["sessions"]
    return found


async def revoke(client: httpx.AsyncClient, token: str, session_id: str) -> dict[str, object]:
    return await mutate(client, "revokeSession", REVOKE_SESSION, {"id": session_id}, token)


async def test_sessions_lists_live_sessions_with_address_agent_and_which_is_current(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    first = await browser_login(client, rt, user)
    second = await browser_login(client, rt, user)
    leaving = await browser_login(client, rt, user)
    await call(client, LOGOUT, token=leaving)

    listed = await sessions_of(client, second)
    assert len(listed) == 3  # sign-up, first, second: not the one that logged out
    assert [s["current"] for s in listed] == [True, False, False]  # newest first
    created = [datetime.fromisoformat(str(s["createdAt"])) for s in listed]
    assert created == sorted(created, reverse=True)
    for session in listed[:2]:
        assert session["ip"] == CLIENT_IP
        assert session["userAgent"] == USER_AGENT
    assert str(listed[2]["userAgent"]).startswith("python-httpx/")  # signed up without one
    assert [s["current"] for s in await sessions_of(client, first)] == [False, True, False]


async def test_last_seen_moves_at_most_once_a_minute(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    (session,) = await sessions_of(client, user.token)
    seen = session["lastSeenAt"]
    rt.clock.advance(30)
    (session,) = await sessions_of(client, user.token)
    assert session["lastSeenAt"] == seen
    rt.clock.advance(31)
    await call(client, VIEWER, token=user.token)  # any request refreshes it, at most once
    (session,) = await sessions_of(client, user.token)
    later = datetime.fromisoformat(str(session["lastSeenAt"]))
    assert later > datetime.fromisoformat(str(seen))
    rt.clock.advance(10)
    (session,) = await sessions_of(client, user.token)
    assert datetime.fromisoformat(str(session["lastSeenAt"])) == later


async def test_revoking_a_session_ends_its_token_at_once_and_is_recorded(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    other = await browser_login(client, rt, user)
    log = await EventLog(client, user.token).start()
    target = next(s for s in await sessions_of(client, other) if s["current"])

    payload = await revoke(client, user.token, str(target["id"]))
    assert payload == {"revokedSessionId": target["id"], "userErrors": []}
    assert await log.new_kinds() == ["SESSION_REVOKED"]
    body = await gql(client, SESSIONS, token=other)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert [s["current"] for s in await sessions_of(client, user.token)] == [True]

    again = await revoke(client, user.token, str(target["id"]))
    assert error_codes_of(again) == ["NOT_FOUND"]
    assert await log.new_kinds() == []


async def test_another_users_session_can_be_neither_seen_nor_revoked(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    alice = await signed_up_user(client, rt)
    bob = await signed_up_user(client, rt)
    (alices,) = await sessions_of(client, alice.token)

    assert (await call(client, NODE, {"id": alices["id"]}, bob.token))["node"] is None
    mine = await call(client, NODE, {"id": alices["id"]}, alice.token)
    assert mine["node"] == {"id": alices["id"], "current": True}
    for bad_id in (str(alices["id"]), encode_global_id("ApiKey", 1), "garbage"):
        refused = await revoke(client, bob.token, bad_id)
        assert error_codes_of(refused) == ["NOT_FOUND"]
        assert refused["revokedSessionId"] is None
    assert (await call(client, VIEWER, token=alice.token))["viewer"] is not None
