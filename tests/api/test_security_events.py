"""The security log: one row per action, with address and user agent, the viewer's only."""

from __future__ import annotations

from datetime import datetime

import httpx

from gql_keys.models import SecurityEvent
from gql_keys.runtime import Runtime
from harness.accounts import (
    BEGIN_SETUP,
    CONFIRM_SETUP,
    LOGIN,
    next_code,
    signed_up_user,
    totp_code,
)
from harness.graphql import error_codes, gql
from tests.api.key_changes_support import update
from tests.api.security_support import (
    BROWSER,
    EVENTS,
    LOGOUT,
    NODE,
    EventLog,
    call,
    confirm_key,
    create_challenge,
    delete_key,
    error_codes_of,
    events,
    login,
)
from tests.api.test_keys import new_key


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_logins_logouts_and_recovery_codes_are_recorded_once_each(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    assert user.recovery_codes
    log = await EventLog(client, user.token).start()

    ok = await login(client, user.email, user.password, next_code(user.seed, rt))
    assert ok["userErrors"] == []
    assert await log.new_kinds() == ["LOGIN_SUCCEEDED"]

    refused = await login(client, user.email, "not the password at all")
    assert error_codes_of(refused) == ["INVALID_CREDENTIALS"]
    assert await log.new_kinds() == ["LOGIN_FAILED"]

    refused = await login(client, user.email, user.password, wrong(next_code(user.seed, rt)))
    assert error_codes_of(refused) == ["INVALID_TWO_FACTOR_CODE"]
    assert await log.new_kinds() == ["TWO_FACTOR_FAILED", "LOGIN_FAILED"]

    by_recovery = await login(client, user.email, user.password, user.recovery_codes[0])
    assert by_recovery["userErrors"] == []
    assert await log.new_kinds() == ["RECOVERY_CODE_USED", "LOGIN_SUCCEEDED"]

    assert (await call(client, LOGOUT, token=by_recovery["token"]))["logout"]["userErrors"] == []
    assert await log.new_kinds() == ["LOGOUT"]


async def test_a_failed_login_for_an_unknown_email_writes_nothing(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    await signed_up_user(client, rt)
    before = await SecurityEvent.all().count()
    refused = await login(client, "nobody-here@example.com", "correct horse battery staple 42")
    assert error_codes_of(refused) == ["INVALID_CREDENTIALS"]
    refused = await login(client, "not an address", "correct horse battery staple 42")
    assert error_codes_of(refused) == ["INVALID_CREDENTIALS"]
    assert await SecurityEvent.all().count() == before


async def test_two_factor_set_up_and_key_lifecycle_are_recorded_once_each(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    log = await EventLog(client, user.token).start()
    begun = (await call(client, BEGIN_SETUP, {"input": {"password": user.password}}, user.token))[
        "beginTwoFactorSetup"
    ]
    seed = begun["secret"]
    assert await log.new_kinds() == []

    setup = {"input": {"code": wrong(totp_code(seed, rt))}}
    refused = (await call(client, CONFIRM_SETUP, setup, user.token))["confirmTwoFactorSetup"]
    assert error_codes_of(refused) == ["INVALID_TWO_FACTOR_CODE"]
    assert await log.new_kinds() == ["TWO_FACTOR_FAILED"]
    setup = {"input": {"code": totp_code(seed, rt)}}
    confirmed = (await call(client, CONFIRM_SETUP, setup, user.token))["confirmTwoFactorSetup"]
    assert confirmed["userErrors"] == []
    assert await log.new_kinds() == ["TWO_FACTOR_ENABLED"]

    challenge = (await create_challenge(client, user.token))["challenge"]["id"]
    assert await log.new_kinds() == []
    refused = await confirm_key(client, user.token, challenge, wrong(next_code(seed, rt)))
    assert error_codes_of(refused) == ["INVALID_TWO_FACTOR_CODE"]
    assert await log.new_kinds() == ["TWO_FACTOR_FAILED"]
    key_id = (await confirm_key(client, user.token, challenge, next_code(seed, rt)))["apiKey"]["id"]
    (created,) = await log.new()
    assert created["kind"] == "KEY_CREATED"
    assert created["apiKey"] == {"id": key_id}

    assert (await delete_key(client, user.token, key_id))["userErrors"] == []
    (deleted,) = await log.new()
    assert deleted["kind"] == "KEY_DELETED"
    assert deleted["apiKey"] == {"id": key_id}


async def test_the_log_is_paged_newest_first(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    for _ in range(4):
        await login(client, user.email, "not the password at all")
    everything = await events(client, user.token)
    assert len(everything) == 6  # sign-up login, 2FA enabled, four failures
    assert [e["kind"] for e in everything[:4]] == ["LOGIN_FAILED"] * 4
    moments = [datetime.fromisoformat(e["occurredAt"]) for e in everything]
    assert moments == sorted(moments, reverse=True)

    pages: list[str] = []
    after = None
    while True:
        page = (await call(client, EVENTS, {"first": 4, "after": after}, user.token))[
            "securityEvents"
        ]
        assert page["totalCount"] == 6
        pages.extend(node["id"] for node in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == [e["id"] for e in everything]

    body = await gql(client, EVENTS, {"first": 101}, token=user.token)
    assert error_codes(body) == ["INVALID_INPUT"]
    body = await gql(client, EVENTS, {"after": "bm90IGEgY3Vyc29y"}, token=user.token)
    assert error_codes(body) == ["INVALID_INPUT"]


async def test_another_users_events_are_never_visible(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    alice = await signed_up_user(client, rt)
    bob = await signed_up_user(client, rt)
    await login(client, alice.email, "not the password at all")
    alices = await events(client, alice.token)
    bobs = await events(client, bob.token)
    assert {e["id"] for e in alices}.isdisjoint({e["id"] for e in bobs})
    assert len(bobs) == 2  # bob's own sign-up login and 2FA, nothing of alice's

    for event in alices:
        seen_by_bob = await call(client, NODE, {"id": event["id"]}, bob.token)
        assert seen_by_bob["node"] is None
        assert (await call(client, NODE, {"id": event["id"]}))["node"] is None
    mine = await call(client, NODE, {"id": alices[0]["id"]}, alice.token)
    assert mine["node"] == {"id": alices[0]["id"], "kind": "LOGIN_FAILED"}


async def test_the_log_needs_a_logged_in_user(client: httpx.AsyncClient) -> None:
    body = await gql(client, EVENTS, headers=BROWSER)
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_user_agents_are_cut_to_256_characters(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    variables = {
        "input": {"email": user.email, "password": "not the password at all", "totpCode": None}
    }
    await gql(client, LOGIN, variables, headers={"User-Agent": "x" * 5000})
    (latest, *_) = await events(client, user.token)
    assert latest["kind"] == "LOGIN_FAILED"
    assert latest["userAgent"] == "x" * 256


LABELLED_EVENTS = "{ securityEvents(first: 20) { nodes { kind keyLabel apiKey { label } } } }"


async def test_key_events_keep_the_label_the_key_had_when_they_happened(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    created = await new_key(client, rt, user, label="desk bot")
    key_id = created["apiKey"]["id"]
    renamed = await update(client, user, key_id, label="desk bot spot")
    assert renamed["userErrors"] == [], renamed
    assert (await delete_key(client, user.token, key_id))["userErrors"] == []

    nodes = (await call(client, LABELLED_EVENTS, token=user.token))["securityEvents"]["nodes"]
    key_events = [(n["kind"], n["keyLabel"], n["apiKey"]["label"]) for n in nodes if n["apiKey"]]
    assert key_events == [
        ("KEY_DELETED", "desk bot spot", "desk bot spot"),
        ("KEY_UPDATED", "desk bot spot", "desk bot spot"),
        ("KEY_CREATED", "desk bot", "desk bot spot"),
    ]
    account_events = [n["keyLabel"] for n in nodes if not n["apiKey"]]
    assert account_events
    assert set(account_events) == {None}
