"""Confirming a key with a TOTP code: challenges, single use, the secret shown once, events."""

from __future__ import annotations

import asyncio

import httpx

from gql_keys.broker.events import ActivityKind
from gql_keys.graphql.node import decode_int_id
from gql_keys.runtime import Runtime
from harness.accounts import LOGIN, next_code, signed_up_user, totp_code
from harness.graphql import error_codes, gql
from tests.api.key_changes_support import drain
from tests.api.test_keys import (
    GET,
    LIST,
    NODE,
    VERIFY,
    codes_and_fields,
    create,
    new_key,
    raw_rows,
    verify,
)


async def test_verify_two_factor_activates_the_key_and_shows_the_secret_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    challenge = (await create(client, user))["challenge"]["id"]
    response = await client.post(
        "/graphql",
        json={
            "query": VERIFY,
            "variables": {"input": {"challengeId": challenge, "code": next_code(user.seed, rt)}},
        },
        headers={"Authorization": f"Bearer {user.token}"},
    )
    assert response.headers["cache-control"] == "no-store"
    payload = response.json()["data"]["verifyTwoFactor"]
    assert payload["userErrors"] == []
    secret = payload["secret"]
    assert secret.startswith("gqks_")
    assert payload["apiKey"]["status"] == "ACTIVE"
    (row,) = await raw_rows("api_keys")
    assert row["state"] == "active"

    # No later read shows the secret.
    key_id = payload["apiKey"]["id"]
    for query, variables in ((LIST, {}), (GET, {"id": key_id}), (NODE, {"id": key_id})):
        later = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {user.token}"},
        )
        assert key_id in later.text
        assert secret not in later.text


async def test_a_retried_verify_never_shows_the_secret_again_nor_creates_a_second_key(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    challenge = (await create(client, user))["challenge"]["id"]
    first = await verify(client, user, challenge, next_code(user.seed, rt))
    assert first["secret"]
    for code in (totp_code(user.seed, rt), next_code(user.seed, rt)):
        again = await verify(client, user, challenge, code)
        assert again["secret"] is None
        assert again["apiKey"] is None
        assert codes_and_fields(again) == [("CHALLENGE_EXPIRED", ["input", "challengeId"])]
    assert len(await raw_rows("api_keys")) == 1
    listing = await gql(client, LIST, token=user.token)
    assert listing["data"]["apiKeys"]["totalCount"] == 1


async def test_concurrent_verifications_activate_the_key_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    challenge = (await create(client, user))["challenge"]["id"]
    code = next_code(user.seed, rt)
    results = await asyncio.gather(*(verify(client, user, challenge, code) for _ in range(4)))
    assert sum(1 for r in results if r["secret"]) == 1
    assert len(await raw_rows("api_keys")) == 1


async def test_database_holds_neither_the_secret_nor_the_totp_seed_in_plaintext(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    secret = (await new_key(client, rt, user))["secret"]
    stored = repr(await raw_rows("api_keys")) + repr(await raw_rows("users"))
    stored += repr(await raw_rows("key_challenges"))
    assert secret not in stored
    assert secret.removeprefix("gqks_") not in stored
    assert user.seed not in stored
    (row,) = await raw_rows("api_keys")
    assert row["secret_sealed"].startswith(rt.secretbox.active_key_id + "$")


async def test_a_wrong_code_is_refused_counted_and_published(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    subscriber = rt.hub.subscribe(lambda e: True)
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    challenge = (await create(client, user))["challenge"]["id"]
    wrong = "000000" if totp_code(user.seed, rt) != "000000" else "111111"
    payload = await verify(client, user, challenge, wrong)
    assert codes_and_fields(payload) == [("INVALID_TWO_FACTOR_CODE", ["input", "code"])]
    (row,) = await raw_rows("key_challenges")
    assert row["attempts"] == 1
    (event,) = drain(subscriber)
    (key_row,) = await raw_rows("api_keys")
    assert event.kind is ActivityKind.TWO_FACTOR_FAILED
    assert event.owner_id == user.user_id
    assert event.api_key_id == key_row["id"]
    # The right code still works afterwards.
    ok = await verify(client, user, challenge, next_code(user.seed, rt))
    assert ok["userErrors"] == []


async def test_a_challenge_dies_after_five_wrong_codes(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    challenge = (await create(client, user))["challenge"]["id"]
    right = totp_code(user.seed, rt)
    wrong = "123456" if right != "123456" else "654321"
    results = [await verify(client, user, challenge, wrong) for _ in range(5)]
    assert [codes_and_fields(r)[0][0] for r in results] == [
        "INVALID_TWO_FACTOR_CODE",
        "INVALID_TWO_FACTOR_CODE",
        "INVALID_TWO_FACTOR_CODE",
        "INVALID_TWO_FACTOR_CODE",
        "TOO_MANY_ATTEMPTS",
    ]
    dead = await verify(client, user, challenge, next_code(user.seed, rt))
    assert codes_and_fields(dead) == [("TOO_MANY_ATTEMPTS", ["input", "challengeId"])]
    (row,) = await raw_rows("api_keys")
    assert row["state"] == "pending"


async def test_a_challenge_expires_after_five_minutes(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    challenge = (await create(client, user))["challenge"]["id"]
    rt.clock.advance(301)
    payload = await verify(client, user, challenge, totp_code(user.seed, rt))
    assert codes_and_fields(payload) == [("CHALLENGE_EXPIRED", ["input", "challengeId"])]
    listing = await gql(client, LIST, token=user.token)
    assert listing["data"]["apiKeys"]["totalCount"] == 0


async def test_a_challenge_still_works_just_before_it_expires(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    challenge = (await create(client, user))["challenge"]["id"]
    rt.clock.advance(240)
    payload = await verify(client, user, challenge, next_code(user.seed, rt))
    assert payload["userErrors"] == []


async def test_a_pending_key_never_confirmed_disappears(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    await create(client, user, label="forgotten")
    rt.clock.advance(2 * 3600)
    other = await signed_up_user(client, rt)
    await create(client, other, label="fresh")
    rows = await raw_rows("api_keys")
    assert [r["label"] for r in rows] == ["fresh"]
    assert len(await raw_rows("key_challenges")) == 1


async def test_a_code_used_to_log_in_cannot_confirm_a_key(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    challenge = (await create(client, user))["challenge"]["id"]
    code = next_code(user.seed, rt)
    body = await gql(
        client,
        LOGIN,
        {"input": {"email": user.email, "password": user.password, "totpCode": code}},
    )
    assert body["data"]["login"]["userErrors"] == []
    payload = await verify(client, user, challenge, code)
    assert codes_and_fields(payload) == [("INVALID_TWO_FACTOR_CODE", ["input", "code"])]


async def test_another_user_cannot_confirm_or_see_a_challenge(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    owner = await signed_up_user(client, rt)
    intruder = await signed_up_user(client, rt)
    assert owner.seed is not None
    assert intruder.seed is not None
    challenge = (await create(client, owner))["challenge"]["id"]
    stolen = await verify(client, intruder, challenge, next_code(intruder.seed, rt))
    assert codes_and_fields(stolen) == [("NOT_FOUND", ["input", "challengeId"])]
    assert stolen["secret"] is None
    (row,) = await raw_rows("key_challenges")
    assert row["attempts"] == 0
    ok = await verify(client, owner, challenge, next_code(owner.seed, rt))
    assert ok["userErrors"] == []


async def test_an_unknown_challenge_is_not_found(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    for challenge in ("kch_nope", "", "x" * 500):
        payload = await verify(client, user, challenge, next_code(user.seed, rt))
        assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "challengeId"])]


async def test_verify_two_factor_needs_a_user_session(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    variables = {"input": {"challengeId": "kch_x", "code": "123456"}}
    assert error_codes(await gql(client, VERIFY, variables)) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(client, VERIFY, variables, token="gks_forged")) == [
        "UNAUTHENTICATED"
    ]


async def test_key_created_is_published_after_the_key_is_active(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    subscriber = rt.hub.subscribe(lambda e: True)
    challenge = (await create(client, user))["challenge"]["id"]
    assert drain(subscriber) == []  # nothing while pending
    assert user.seed is not None
    payload = await verify(client, user, challenge, next_code(user.seed, rt))
    (event,) = drain(subscriber)
    assert event.kind is ActivityKind.KEY_CREATED
    assert event.owner_id == user.user_id
    assert event.api_key_id == decode_int_id(payload["apiKey"]["id"], "ApiKey")
    assert event.key == payload["apiKey"]["key"]
    assert payload["secret"] not in event.to_json()
    (row,) = await raw_rows("api_keys")
    assert row["state"] == "active"
