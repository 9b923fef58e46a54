"""updateApiKey: narrowing applies at once, widening waits for a code, policy holds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from gql_keys.broker.events import ActivityKind
from gql_keys.models import ApiKey
from gql_keys.runtime import Runtime
from gql_keys.settings import Settings
from harness.accounts import TestUser, next_code, signed_up_user
from harness.graphql import gql
from harness.keys import verifier_token
from tests.api.key_changes_support import (
    ROLL,
    UPDATE,
    confirm,
    drain,
    get_key,
    pk,
    roll,
    update,
    verify_code,
)
from tests.api.test_keys import DELETE, codes_and_fields, new_key, raw_rows
from tests.api.test_partner import partner_post


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The rules of changing a key, with WITHDRAW in force at once: its cooling-off has
    tests of its own (test_cooling_off.py)."""
    return settings.with_overrides(withdraw_cooling_off_seconds=0)


ALLOWLISTED = {
    "scopes": ["SPOT_WRITE", "WALLET_READ"],
    "ipAllowlist": ["10.1.0.0/20", "203.0.113.7"],
    "rateLimit": {"requests": 100, "perSeconds": 10},
}


def iso(at: datetime) -> str:
    return at.isoformat()


async def allowlisted_key(
    client: httpx.AsyncClient, rt: Runtime, user: TestUser, **overrides: Any
) -> dict[str, Any]:
    expires = rt.clock.now() + timedelta(days=30)
    payload = await new_key(
        client, rt, user, **{**ALLOWLISTED, "expiresAt": iso(expires), **overrides}
    )
    key: dict[str, Any] = payload["apiKey"]
    return key


# A case: (key fields over ALLOWLISTED, the update input, the fields expected afterwards).
# A timedelta stands for the test clock's now plus that much.
Case = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
WITHDRAW_KEY = {"scopes": ["WITHDRAW", "SPOT_WRITE"]}
DEFAULT_RATE = {"rateLimit": None}  # the platform default: 1,000 per 10 s

NARROWING: dict[str, Case] = {
    "label": ({}, {"label": "renamed"}, {"label": "renamed"}),
    "fewer scopes": ({}, {"scopes": ["SPOT_WRITE"]}, {"scopes": ["SPOT_WRITE"]}),
    "write to read": ({}, {"scopes": ["SPOT_READ"]}, {"scopes": ["SPOT_READ"]}),
    "allowlist inside the old one": (
        {},
        {"ipAllowlist": ["10.1.7.0/24", "203.0.113.7"]},
        {"ipAllowlist": ["10.1.7.0/24", "203.0.113.7"]},
    ),
    "the old allowlist written IPv4-mapped": (
        {"ipAllowlist": ["10.0.0.0/24"]},
        {"ipAllowlist": ["::ffff:10.0.0.0/120"]},
        {"ipAllowlist": ["10.0.0.0/24"]},
    ),
    "IPv4 inside an IPv4-mapped allowlist": (
        {"ipAllowlist": ["::ffff:10.0.0.0/120"]},
        {"ipAllowlist": ["10.0.0.128/25"]},
        {"ipAllowlist": ["10.0.0.128/25"]},
    ),
    "earlier expiry": ({}, {"expiresAt": timedelta(days=10)}, {"expiresAt": timedelta(days=10)}),
    "lower rate limit": (
        {},
        {"rateLimit": {"requests": 50, "perSeconds": 10}},
        {"rateLimit": {"requests": 50, "perSeconds": 10}},
    ),
    "same burst over a longer window": (
        {},
        {"rateLimit": {"requests": 100, "perSeconds": 60}},
        {"rateLimit": {"requests": 100, "perSeconds": 60}},
    ),
    "lower than the platform default": (
        DEFAULT_RATE,
        {"rateLimit": {"requests": 500, "perSeconds": 10}},
        {"rateLimit": {"requests": 500, "perSeconds": 10}},
    ),
    "fewer scopes on a WITHDRAW key": (
        WITHDRAW_KEY,
        {"scopes": ["WITHDRAW"]},
        {"scopes": ["WITHDRAW"]},
    ),
    "allowlist inside the old one on a WITHDRAW key": (
        WITHDRAW_KEY,
        {"ipAllowlist": ["10.1.7.0/24"]},
        {"ipAllowlist": ["10.1.7.0/24"]},
    ),
}

WIDENING: dict[str, Case] = {
    "a new scope": (
        {},
        {"scopes": ["SPOT_WRITE", "WALLET_READ", "FUTURES_READ"]},
        {"scopes": ["SPOT_WRITE", "FUTURES_READ", "WALLET_READ"]},
    ),
    "read to write": ({}, {"scopes": ["SPOT_WRITE", "WALLET_WRITE"]}, {}),
    "an address outside the allowlist": (
        {},
        {"ipAllowlist": ["10.1.0.0/20", "203.0.113.8"]},
        {"ipAllowlist": ["10.1.0.0/20", "203.0.113.8"]},
    ),
    "a wider network": ({}, {"ipAllowlist": ["10.1.0.0/16", "203.0.113.7"]}, {}),
    "an IPv4-mapped network wider than the IPv4 one": (
        {"ipAllowlist": ["10.0.0.0/24"]},
        {"ipAllowlist": ["::ffff:10.0.0.0/119"]},
        {"ipAllowlist": ["10.0.0.0/23"]},
    ),
    "removing the allowlist": ({}, {"ipAllowlist": []}, {"ipAllowlist": []}),
    "a later expiry": ({}, {"expiresAt": timedelta(days=60)}, {"expiresAt": timedelta(days=60)}),
    "a higher burst": (
        {},
        {"rateLimit": {"requests": 200, "perSeconds": 20}},
        {"rateLimit": {"requests": 200, "perSeconds": 20}},
    ),
    "a faster rate": ({}, {"rateLimit": {"requests": 100, "perSeconds": 5}}, {}),
    "higher than the platform default": (
        DEFAULT_RATE,
        {"rateLimit": {"requests": 2000, "perSeconds": 10}},
        {"rateLimit": {"requests": 2000, "perSeconds": 10}},
    ),
}


def cases(table: dict[str, Case]) -> list[Any]:
    return [pytest.param(*case, id=name) for name, case in table.items()]


def at(fields: dict[str, Any], now: datetime, text: bool) -> dict[str, Any]:
    """``fields`` with every timedelta made a time after ``now`` (ISO text when ``text``)."""
    timed = {k: now + v for k, v in fields.items() if isinstance(v, timedelta)}
    return {**fields, **{k: iso(v) if text else v for k, v in timed.items()}}


def assert_has(key: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        if isinstance(value, datetime):
            assert datetime.fromisoformat(key[name]) == value, name
        else:
            assert key[name] == value, name


@pytest.mark.parametrize(("overrides", "changes", "expected"), cases(NARROWING))
async def test_a_narrowing_change_applies_at_once_without_a_code(
    client: httpx.AsyncClient,
    rt: Runtime,
    overrides: dict[str, Any],
    changes: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    now = rt.clock.now()
    changes, expected = at(changes, now, text=True), at(expected, now, text=False)
    user = await signed_up_user(client, rt)
    key = await allowlisted_key(client, rt, user, **overrides)
    payload = await update(client, user, key["id"], **changes)
    assert payload["userErrors"] == []
    assert payload["challenge"] is None
    assert_has(payload["apiKey"], expected)
    assert_has(await get_key(client, user, key["id"]), expected)
    assert [r["purpose"] for r in await raw_rows("key_challenges")] == ["CREATE_KEY"]


@pytest.mark.parametrize(("overrides", "changes", "expected"), cases(WIDENING))
async def test_a_widening_change_only_returns_a_challenge_until_confirmed(
    client: httpx.AsyncClient,
    rt: Runtime,
    overrides: dict[str, Any],
    changes: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    now = rt.clock.now()
    changes, expected = at(changes, now, text=True), at(expected, now, text=False)
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    key = await allowlisted_key(client, rt, user, **overrides)
    payload = await update(client, user, key["id"], **changes)
    assert payload["userErrors"] == []
    assert payload["apiKey"] is None
    assert payload["challenge"]["purpose"] == "UPDATE_KEY"
    unchanged = await get_key(client, user, key["id"])
    assert unchanged == {**key, "previousSecretExpiresAt": None}

    confirmed = await confirm(client, user, payload["challenge"]["id"], next_code(user.seed, rt))
    assert confirmed["userErrors"] == []
    assert confirmed["secret"] is None
    assert_has(confirmed["apiKey"], expected)
    assert_has(await get_key(client, user, key["id"]), expected)


async def test_adding_an_allowlist_to_an_unrestricted_key_narrows(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    key = (await new_key(client, rt, user))["apiKey"]
    assert key["ipAllowlist"] == []
    payload = await update(client, user, key["id"], ipAllowlist=["198.51.100.0/24"])
    assert payload["challenge"] is None
    assert payload["apiKey"]["ipAllowlist"] == ["198.51.100.0/24"]


async def test_one_input_that_narrows_and_widens_is_a_widening_and_changes_nothing(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    key = await allowlisted_key(client, rt, user)
    payload = await update(
        client,
        user,
        key["id"],
        label="mixed",
        scopes=["SPOT_READ"],
        ipAllowlist=["10.1.0.0/16"],
    )
    assert payload["apiKey"] is None
    assert payload["challenge"]["purpose"] == "UPDATE_KEY"
    current = await get_key(client, user, key["id"])
    assert current["label"] == key["label"]
    assert current["scopes"] == key["scopes"]
    confirmed = await confirm(client, user, payload["challenge"]["id"], next_code(user.seed, rt))
    assert_has(
        confirmed["apiKey"],
        {"label": "mixed", "scopes": ["SPOT_READ"], "ipAllowlist": ["10.1.0.0/16"]},
    )


async def test_the_challenge_stores_the_change_and_the_confirmation_applies_only_it(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    key = await allowlisted_key(client, rt, user)
    widen = await update(client, user, key["id"], scopes=["SPOT_WRITE", "WALLET_WRITE"])
    stored = [r for r in await raw_rows("key_challenges") if r["purpose"] == "UPDATE_KEY"]
    assert len(stored) == 1
    payload = stored[0]["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert payload == {"scopes": ["SPOT_WRITE", "WALLET_WRITE"]}
    confirmed = await confirm(client, user, widen["challenge"]["id"], next_code(user.seed, rt))
    assert confirmed["apiKey"]["scopes"] == ["SPOT_WRITE", "WALLET_WRITE"]
    assert confirmed["apiKey"]["ipAllowlist"] == key["ipAllowlist"]
    again = await confirm(client, user, widen["challenge"]["id"], next_code(user.seed, rt))
    assert codes_and_fields(again) == [("CHALLENGE_EXPIRED", ["input", "challengeId"])]


async def test_a_code_used_for_another_challenge_or_replayed_does_not_confirm(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    key = await allowlisted_key(client, rt, user)
    other = await allowlisted_key(client, rt, user, label="other")
    widen = (await update(client, user, key["id"], ipAllowlist=[]))["challenge"]
    rolled = (await roll(client, user, other["id"]))["challenge"]
    assert rolled["purpose"] == "ROLL_KEY"
    code = next_code(user.seed, rt)
    assert (await confirm(client, user, rolled["id"], code))["secret"]
    # The same code, now sent to the update challenge: refused, nothing applied.
    replayed = await confirm(client, user, widen["id"], code)
    assert codes_and_fields(replayed) == [("INVALID_TWO_FACTOR_CODE", ["input", "code"])]
    assert (await get_key(client, user, key["id"]))["ipAllowlist"] == key["ipAllowlist"]
    # Nor on its second try.
    again = await confirm(client, user, widen["id"], code)
    assert codes_and_fields(again) == [("INVALID_TWO_FACTOR_CODE", ["input", "code"])]
    fresh = await confirm(client, user, widen["id"], next_code(user.seed, rt))
    assert fresh["userErrors"] == []
    assert fresh["apiKey"]["ipAllowlist"] == []


async def test_withdraw_without_an_allowlist_is_refused_at_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    key = await allowlisted_key(client, rt, user, scopes=["WITHDRAW"])
    payload = await update(client, user, key["id"], ipAllowlist=[])
    assert codes_and_fields(payload) == [("INVALID_INPUT", ["input", "ipAllowlist"])]
    assert payload["challenge"] is None


async def test_a_stored_change_of_a_key_changed_since_is_expired_not_applied(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    key = await allowlisted_key(client, rt, user)
    add_withdraw = (await update(client, user, key["id"], scopes=["SPOT_WRITE", "WITHDRAW"]))[
        "challenge"
    ]
    drop_allowlist = (await update(client, user, key["id"], ipAllowlist=[]))["challenge"]
    assert (await confirm(client, user, drop_allowlist["id"], next_code(user.seed, rt)))[
        "userErrors"
    ] == []
    # Asked for a key with an allowlist; the key has none now: that request is over.
    refused = await confirm(client, user, add_withdraw["id"], next_code(user.seed, rt))
    assert codes_and_fields(refused) == [("CHALLENGE_EXPIRED", ["input", "challengeId"])]
    assert refused["apiKey"] is None
    assert "WITHDRAW" not in (await get_key(client, user, key["id"]))["scopes"]


async def test_removing_the_allowlist_caps_the_expiry_counted_from_the_confirmation(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    key = await allowlisted_key(client, rt, user, expiresAt=None)
    assert key["expiresAt"] is None
    challenge = (await update(client, user, key["id"], ipAllowlist=[]))["challenge"]
    rt.clock.advance(120)
    confirmed_at = rt.clock.now()
    confirmed = await confirm(client, user, challenge["id"], next_code(user.seed, rt))
    expires = datetime.fromisoformat(confirmed["apiKey"]["expiresAt"])
    assert abs((expires - (confirmed_at + timedelta(days=90))).total_seconds()) < 60
    assert confirmed["apiKey"]["expiryClamped"] is True


async def test_bad_values_are_refused_with_their_field(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    key = await allowlisted_key(client, rt, user)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"label": ""}, ["input", "label"]),
        ({"scopes": []}, ["input", "scopes"]),
        ({"ipAllowlist": ["10.0.0.300"]}, ["input", "ipAllowlist", "0"]),
        ({"ipAllowlist": ["10.0.0.0/8"]}, ["input", "ipAllowlist", "0"]),
        ({"expiresAt": iso(rt.clock.now() - timedelta(days=1))}, ["input", "expiresAt"]),
        ({"rateLimit": {"requests": 0, "perSeconds": 10}}, ["input", "rateLimit", "requests"]),
    ]
    for changes, field in cases:
        payload = await update(client, user, key["id"], **changes)
        assert codes_and_fields(payload) == [("INVALID_INPUT", field)], changes
    assert await get_key(client, user, key["id"]) == {**key, "previousSecretExpiresAt": None}


async def test_another_users_or_a_deleted_key_is_not_found(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    owner = await signed_up_user(client, rt)
    other = await signed_up_user(client, rt)
    key = await allowlisted_key(client, rt, owner)
    assert codes_and_fields(await update(client, other, key["id"], label="mine")) == [
        ("NOT_FOUND", ["input", "id"])
    ]
    assert codes_and_fields(await roll(client, other, key["id"])) == [
        ("NOT_FOUND", ["input", "id"])
    ]
    assert codes_and_fields(await update(client, owner, "not-an-id", label="x")) == [
        ("NOT_FOUND", ["input", "id"])
    ]
    await gql(client, DELETE, {"input": {"id": key["id"]}}, token=owner.token)
    assert codes_and_fields(await update(client, owner, key["id"], label="x")) == [
        ("NOT_FOUND", ["input", "id"])
    ]


async def test_a_partner_can_neither_update_nor_roll_its_key(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    created = await new_key(client, rt, user)
    row = await ApiKey.get(id=pk(created["apiKey"]["id"]))
    for query, variables in (
        (UPDATE, {"input": {"id": created["apiKey"]["id"], "label": "partner"}}),
        (ROLL, {"input": {"id": created["apiKey"]["id"]}}),
    ):
        body = await partner_post(
            client,
            row,
            created["secret"],
            query,
            variables,
            timestamp=str(int(rt.clock.time())),
        )
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert (await get_key(client, user, created["apiKey"]["id"]))["label"] == "trading bot"


async def test_a_narrowed_key_is_refused_by_verification_at_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    created = await new_key(client, rt, user, scopes=["SPOT_WRITE", "WALLET_READ"])
    key, secret = created["apiKey"], created["secret"]
    token = await verifier_token()
    wallet = {"required_scope": "WALLET_READ"}
    assert await verify_code(client, rt, token, key["key"], secret, **wallet) == "VALID"
    narrowed = await update(client, user, key["id"], scopes=["SPOT_WRITE"])
    assert narrowed["challenge"] is None
    code = await verify_code(client, rt, token, key["key"], secret, **wallet)
    assert code == "SCOPE_NOT_GRANTED"
    await update(client, user, key["id"], ipAllowlist=["198.51.100.1"])
    assert await verify_code(client, rt, token, key["key"], secret) == "IP_NOT_ALLOWED"


async def test_an_applied_change_is_published_as_key_updated(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    key = await allowlisted_key(client, rt, user)
    subscriber = rt.hub.subscribe(lambda event: True)
    try:
        await update(client, user, key["id"], label="quiet")
        challenge = (await update(client, user, key["id"], ipAllowlist=[]))["challenge"]
        assert [e.kind for e in drain(subscriber)] == [ActivityKind.KEY_UPDATED]
        await confirm(client, user, challenge["id"], next_code(user.seed, rt))
        events = drain(subscriber)
        assert [(e.kind, e.api_key_id, e.owner_id) for e in events] == [
            (ActivityKind.KEY_UPDATED, pk(key["id"]), user.user_id)
        ]
    finally:
        rt.hub.unsubscribe(subscriber)


SECURITY_EVENTS = "{ securityEvents(first: 10) { nodes { kind apiKey { id } } } }"


async def test_applied_updates_and_rolls_are_security_events_and_refusals_are_not(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    key = await allowlisted_key(client, rt, user)
    await update(client, user, key["id"], label="narrowed")
    add_withdraw = (await update(client, user, key["id"], scopes=["SPOT_WRITE", "WITHDRAW"]))[
        "challenge"
    ]
    drop_allowlist = (await update(client, user, key["id"], ipAllowlist=[]))["challenge"]
    await confirm(client, user, drop_allowlist["id"], next_code(user.seed, rt))
    refused = await confirm(client, user, add_withdraw["id"], next_code(user.seed, rt))
    assert refused["apiKey"] is None
    rolled = (await roll(client, user, key["id"]))["challenge"]
    await confirm(client, user, rolled["id"], next_code(user.seed, rt))
    body = await gql(client, SECURITY_EVENTS, token=user.token)
    events = [
        (e["kind"], (e["apiKey"] or {}).get("id"))
        for e in body["data"]["securityEvents"]["nodes"]
        if e["kind"].startswith("KEY_")
    ]
    assert events == [
        ("KEY_ROLLED", key["id"]),
        ("KEY_UPDATED", key["id"]),
        ("KEY_UPDATED", key["id"]),
        ("KEY_CREATED", key["id"]),
    ]
