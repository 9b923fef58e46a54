"""rollApiKey: a new secret or public key behind a code, the old one for an overlap."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gql_keys.broker.events import ActivityKind
from gql_keys.runtime import Runtime
from harness.accounts import TestUser, next_code, signed_up_user
from harness.graphql import gql
from harness.keys import verifier_token
from tests.api.key_changes_support import confirm, drain, get_key, pk, roll, verify_code
from tests.api.test_keys import codes_and_fields, new_key, raw_rows

USAGE = """
query ($filter: UsageLogFilter) {
  usageLogs(filter: $filter, first: 10) { nodes { code signedWithPreviousSecret } }
}
"""


async def rolled(
    client: httpx.AsyncClient, rt: Runtime, user: TestUser, key_id: str, **options: Any
) -> dict[str, Any]:
    """Roll and confirm; the verifyTwoFactor payload."""
    assert user.seed is not None
    payload = await roll(client, user, key_id, **options)
    assert payload["userErrors"] == [], payload
    assert payload["challenge"]["purpose"] == "ROLL_KEY"
    confirmed = await confirm(client, user, payload["challenge"]["id"], next_code(user.seed, rt))
    assert confirmed["userErrors"] == [], confirmed
    return confirmed


async def test_both_secrets_verify_during_the_overlap_and_only_the_new_one_after(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    created = await new_key(client, rt, user)
    key, old = created["apiKey"], created["secret"]
    token = await verifier_token()
    assert await verify_code(client, rt, token, key["key"], old) == "VALID"

    confirmed = await rolled(client, rt, user, key["id"], overlapSeconds=600)
    new = confirmed["secret"]
    assert new.startswith("gqks_")
    assert new != old
    assert confirmed["apiKey"]["key"] == key["key"]
    assert confirmed["apiKey"]["id"] == key["id"]
    until = datetime.fromisoformat(confirmed["apiKey"]["previousSecretExpiresAt"])
    assert abs((until - (rt.clock.now() + timedelta(seconds=600))).total_seconds()) < 5

    assert await verify_code(client, rt, token, key["key"], new) == "VALID"
    assert await verify_code(client, rt, token, key["key"], old) == "VALID"
    logs = await gql(client, USAGE, {"filter": {"keyId": key["id"]}}, token=user.token)
    assert logs["data"]["usageLogs"]["nodes"][:3] == [
        {"code": "VALID", "signedWithPreviousSecret": True},
        {"code": "VALID", "signedWithPreviousSecret": False},
        {"code": "VALID", "signedWithPreviousSecret": False},
    ]

    rt.clock.advance(601)
    assert await verify_code(client, rt, token, key["key"], old) == "INVALID_SIGNATURE"
    assert await verify_code(client, rt, token, key["key"], new) == "VALID"
    assert (await get_key(client, user, key["id"]))["previousSecretExpiresAt"] is None


async def test_overlap_zero_ends_the_old_secret_at_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    created = await new_key(client, rt, user)
    key, old = created["apiKey"], created["secret"]
    token = await verifier_token()
    assert await verify_code(client, rt, token, key["key"], old) == "VALID"
    confirmed = await rolled(client, rt, user, key["id"], overlapSeconds=0)
    assert confirmed["apiKey"]["previousSecretExpiresAt"] is None
    assert await verify_code(client, rt, token, key["key"], old) == "INVALID_SIGNATURE"
    assert await verify_code(client, rt, token, key["key"], confirmed["secret"]) == "VALID"


async def test_rolling_again_during_an_overlap_ends_the_older_overlap(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    created = await new_key(client, rt, user)
    key, first = created["apiKey"], created["secret"]
    token = await verifier_token()
    second = (await rolled(client, rt, user, key["id"]))["secret"]
    assert await verify_code(client, rt, token, key["key"], first) == "VALID"
    third = (await rolled(client, rt, user, key["id"], overlapSeconds=300))["secret"]
    assert await verify_code(client, rt, token, key["key"], first) == "INVALID_SIGNATURE"
    assert await verify_code(client, rt, token, key["key"], second) == "VALID"
    assert await verify_code(client, rt, token, key["key"], third) == "VALID"


async def test_nothing_changes_until_the_roll_is_confirmed(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    created = await new_key(client, rt, user)
    key = created["apiKey"]
    before = (await raw_rows("api_keys"))[0]["secret_sealed"]
    payload = await roll(client, user, key["id"])
    assert payload["challenge"]["purpose"] == "ROLL_KEY"
    (row,) = await raw_rows("api_keys")
    assert row["secret_sealed"] == before
    assert row["previous_secret_sealed"] is None
    token = await verifier_token()
    assert await verify_code(client, rt, token, key["key"], created["secret"]) == "VALID"


async def test_the_new_secret_is_sealed_and_shown_only_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    created = await new_key(client, rt, user)
    confirmed = await rolled(client, rt, user, created["apiKey"]["id"])
    secret = confirmed["secret"]
    stored = repr(await raw_rows("api_keys")) + repr(await raw_rows("key_challenges"))
    assert secret not in stored
    assert secret.removeprefix("gqks_") not in stored
    (row,) = await raw_rows("api_keys")
    assert row["secret_sealed"].startswith(rt.secretbox.active_key_id + "$")
    listing = await client.post(
        "/graphql",
        json={"query": "{ apiKeys { nodes { id key previousSecretExpiresAt } } }"},
        headers={"Authorization": f"Bearer {user.token}"},
    )
    assert secret not in listing.text


async def test_an_ed25519_key_rolls_to_the_given_public_key(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    old_private = Ed25519PrivateKey.generate()
    old_public = base64.b64encode(
        old_private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    ).decode()
    created = await new_key(client, rt, user, algorithm="ED25519", publicKey=old_public)
    key = created["apiKey"]
    assert created["secret"] is None
    missing = await roll(client, user, key["id"])
    assert codes_and_fields(missing) == [("INVALID_INPUT", ["input", "publicKey"])]
    assert codes_and_fields(await roll(client, user, key["id"], publicKey="bm90IGEga2V5")) == [
        ("INVALID_INPUT", ["input", "publicKey"])
    ]

    new_private = Ed25519PrivateKey.generate()
    new_pem = (
        new_private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    confirmed = await rolled(client, rt, user, key["id"], publicKey=new_pem, overlapSeconds=60)
    assert confirmed["secret"] is None
    token = await verifier_token()
    assert await verify_code(client, rt, token, key["key"], new_private) == "VALID"
    assert await verify_code(client, rt, token, key["key"], old_private) == "VALID"
    rt.clock.advance(61)
    assert await verify_code(client, rt, token, key["key"], old_private) == "INVALID_SIGNATURE"
    assert await verify_code(client, rt, token, key["key"], new_private) == "VALID"


async def test_bad_roll_options_are_refused(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    key = (await new_key(client, rt, user))["apiKey"]
    for options, field in (
        ({"overlapSeconds": -1}, ["input", "overlapSeconds"]),
        ({"overlapSeconds": 86_401}, ["input", "overlapSeconds"]),
        ({"publicKey": "AAAA"}, ["input", "publicKey"]),
    ):
        payload = await roll(client, user, key["id"], **options)
        assert codes_and_fields(payload) == [("INVALID_INPUT", field)], options
        assert payload["challenge"] is None
    assert (await roll(client, user, key["id"], overlapSeconds=86_400))["userErrors"] == []


async def test_a_confirmed_roll_is_published_as_key_rolled(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    key = (await new_key(client, rt, user))["apiKey"]
    subscriber = rt.hub.subscribe(lambda event: True)
    try:
        await rolled(client, rt, user, key["id"])
        events = drain(subscriber)
    finally:
        rt.hub.unsubscribe(subscriber)
    assert [(e.kind, e.api_key_id, e.owner_id) for e in events] == [
        (ActivityKind.KEY_ROLLED, pk(key["id"]), user.user_id)
    ]


OLD_SECRET_SINCE_ROLL = """
query ($filter: UsageLogFilter) { usageLogs(filter: $filter, first: 5) { totalCount nodes { id } } }
"""
ROLLED_AT = "query ($id: ID!) { apiKey(id: $id) { rolledAt } }"


async def rolled_at_of(client: httpx.AsyncClient, user: TestUser, key_id: str) -> str | None:
    body = await gql(client, ROLLED_AT, {"id": key_id}, token=user.token)
    value: str | None = body["data"]["apiKey"]["rolledAt"]
    return value


async def test_requests_on_the_old_secret_since_the_last_roll_are_counted_by_filter(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    created = await new_key(client, rt, user)
    key, first = created["apiKey"], created["secret"]
    assert await rolled_at_of(client, user, key["id"]) is None
    token = await verifier_token()

    async def old_secret_requests_since_roll() -> int:
        rolled_at = await rolled_at_of(client, user, key["id"])
        flt = {"keyId": key["id"], "signedWithPreviousSecret": True, "since": rolled_at}
        body = await gql(client, OLD_SECRET_SINCE_ROLL, {"filter": flt}, token=user.token)
        count: int = body["data"]["usageLogs"]["totalCount"]
        return count

    second = (await rolled(client, rt, user, key["id"]))["secret"]
    rolled_at = datetime.fromisoformat(str(await rolled_at_of(client, user, key["id"])))
    assert abs((rolled_at - rt.clock.now()).total_seconds()) < 5
    for _ in range(2):
        assert await verify_code(client, rt, token, key["key"], first) == "VALID"
    assert await verify_code(client, rt, token, key["key"], second) == "VALID"
    assert await old_secret_requests_since_roll() == 2

    rt.clock.advance(10)
    third = (await rolled(client, rt, user, key["id"]))["secret"]
    assert await old_secret_requests_since_roll() == 0  # the earlier roll's requests drop out
    assert await verify_code(client, rt, token, key["key"], second) == "VALID"
    assert await verify_code(client, rt, token, key["key"], third) == "VALID"
    assert await old_secret_requests_since_roll() == 1

    not_flagged = {"keyId": key["id"], "signedWithPreviousSecret": False}
    body = await gql(client, OLD_SECRET_SINCE_ROLL, {"filter": not_flagged}, token=user.token)
    assert body["data"]["usageLogs"]["totalCount"] == 2  # one request on each new secret
