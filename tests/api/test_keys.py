"""Creating API keys: who may, what is validated, which policies apply.

The helpers at the top are shared by the other ``test_keys_*`` modules.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tortoise.connection import connections

from gql_keys.principals import ServiceRole
from gql_keys.runtime import Runtime
from gql_keys.security.keymaterial import looks_like_public_key_id, secret_checksum_valid
from gql_keys.services import service_tokens
from harness.accounts import TestUser, next_code, signed_up_user
from harness.graphql import error_codes, gql

KEY_FIELDS = """
  id key label algorithm scopes ipAllowlist status createdAt expiresAt expiryClamped
  lastUsedAt lastUsedIp rateLimit { requests perSeconds }
"""

CREATE = """
mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { challenge { id expiresAt } userErrors { field code message } }
}
"""

VERIFY = f"""
mutation ($input: VerifyTwoFactorInput!) {{
  verifyTwoFactor(input: $input) {{
    apiKey {{ {KEY_FIELDS} }} secret userErrors {{ field code message }}
  }}
}}
"""

DELETE = """
mutation ($input: DeleteApiKeyInput!) {
  deleteApiKey(input: $input) { deletedApiKeyId userErrors { field code message } }
}
"""

LIST = f"""
query ($first: Int, $after: String, $includeDeleted: Boolean) {{
  apiKeys(first: $first, after: $after, includeDeleted: $includeDeleted) {{
    totalCount pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{ id }} }}
    nodes {{ {KEY_FIELDS} }}
  }}
}}
"""

GET = f"query ($id: ID!) {{ apiKey(id: $id) {{ {KEY_FIELDS} }} }}"
NODE = f"query ($id: ID!) {{ node(id: $id) {{ id ... on ApiKey {{ {KEY_FIELDS} }} }} }}"


def key_input(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"label": "trading bot", "scopes": ["SPOT_WRITE"]}
    data.update(overrides)
    return data


async def create(client: httpx.AsyncClient, user: TestUser, **overrides: Any) -> dict[str, Any]:
    body = await gql(client, CREATE, {"input": key_input(**overrides)}, token=user.token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createApiKey"]
    return payload


async def verify(
    client: httpx.AsyncClient, user: TestUser, challenge_id: str, code: str
) -> dict[str, Any]:
    body = await gql(
        client, VERIFY, {"input": {"challengeId": challenge_id, "code": code}}, token=user.token
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["verifyTwoFactor"]
    return payload


async def new_key(
    client: httpx.AsyncClient, rt: Runtime, user: TestUser, **overrides: Any
) -> dict[str, Any]:
    """Create and confirm a key; the verifyTwoFactor payload (apiKey and secret)."""
    created = await create(client, user, **overrides)
    assert created["userErrors"] == [], created
    assert user.seed is not None
    payload = await verify(client, user, created["challenge"]["id"], next_code(user.seed, rt))
    assert payload["userErrors"] == [], payload
    return payload


async def raw_rows(table: str) -> list[dict[str, Any]]:
    """Every row of ``table`` exactly as stored (no ORM decoding)."""
    (connection,) = connections.all()
    rows: list[dict[str, Any]] = await connection.execute_query_dict(
        f"SELECT * FROM {table} ORDER BY id"
    )
    return rows


def codes_and_fields(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


def ed25519_public_key() -> tuple[bytes, str, str]:
    """Raw bytes, PEM and base64 of a fresh Ed25519 public key."""
    public = Ed25519PrivateKey.generate().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return raw, pem, base64.b64encode(raw).decode()


# --- who may create keys ---------------------------------------------------------------


async def test_create_api_key_without_credentials_is_unauthenticated(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(client, CREATE, {"input": key_input()})
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_create_api_key_with_a_service_token_is_forbidden(
    client: httpx.AsyncClient,
) -> None:
    token = await service_tokens.create("gateway", ServiceRole.VERIFIER)
    body = await gql(client, CREATE, {"input": key_input()}, token=token)
    assert error_codes(body) == ["FORBIDDEN"]
    body = await gql(client, LIST, token=token)
    assert error_codes(body) == ["FORBIDDEN"]


async def test_create_api_key_needs_two_factor_enabled(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt, two_factor=False)
    payload = await create(client, user)
    assert codes_and_fields(payload) == [("TWO_FACTOR_NOT_ENABLED", None)]
    assert payload["challenge"] is None
    assert await raw_rows("api_keys") == []


# --- success returns only a challenge -----------------------------------------------------


async def test_create_api_key_returns_a_challenge_and_a_pending_unlisted_key(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    payload = await create(client, user)
    assert payload["userErrors"] == []
    challenge = payload["challenge"]
    assert challenge["id"]
    expires = datetime.fromisoformat(challenge["expiresAt"])
    assert expires.utcoffset() == timedelta(0)
    assert abs((expires - rt.clock.now()).total_seconds() - 300) < 5
    (row,) = await raw_rows("api_keys")
    assert row["state"] == "pending"
    listing = await gql(client, LIST, token=user.token)
    assert listing["data"]["apiKeys"]["totalCount"] == 0
    assert listing["data"]["apiKeys"]["nodes"] == []


async def test_challenge_ids_are_random_and_opaque(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    first = (await create(client, user))["challenge"]["id"]
    second = (await create(client, user))["challenge"]["id"]
    assert first != second
    assert len(first) >= 40
    rows = await raw_rows("key_challenges")
    assert [r["public_id"] for r in rows] == [first, second]


# --- each invalid input gives its code and field ----------------------------------------

INVALID_INPUTS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("empty label", {"label": ""}, ["input", "label"]),
    ("blank label", {"label": "   "}, ["input", "label"]),
    ("long label", {"label": "x" * 65}, ["input", "label"]),
    ("control character in label", {"label": "bot\x00"}, ["input", "label"]),
    ("no scopes", {"scopes": []}, ["input", "scopes"]),
    ("duplicate scope", {"scopes": ["SPOT_READ", "SPOT_READ"]}, ["input", "scopes", "1"]),
    (
        "bad allowlist entry",
        {"ipAllowlist": ["10.0.0.1", "::1", "192.168.0.0/16", "10.0.0.300"]},
        ["input", "ipAllowlist", "3"],
    ),
    ("hostname in allowlist", {"ipAllowlist": ["example.com"]}, ["input", "ipAllowlist", "0"]),
    ("empty allowlist entry", {"ipAllowlist": [""]}, ["input", "ipAllowlist", "0"]),
    ("any IPv4 address", {"ipAllowlist": ["0.0.0.0/0"]}, ["input", "ipAllowlist", "0"]),
    ("any IPv6 address", {"ipAllowlist": ["10.0.0.1", "::/0"]}, ["input", "ipAllowlist", "1"]),
    ("/0 with host bits", {"ipAllowlist": ["1.2.3.4/0"]}, ["input", "ipAllowlist", "0"]),
    ("bad prefix", {"ipAllowlist": ["10.0.0.0/33"]}, ["input", "ipAllowlist", "0"]),
    ("zone id", {"ipAllowlist": ["fe80::1%eth0"]}, ["input", "ipAllowlist", "0"]),
    (
        "21 allowlist entries",
        {"ipAllowlist": [f"10.0.0.{i}" for i in range(21)]},
        ["input", "ipAllowlist"],
    ),
    ("expiry in the past", {"expiresAt": "2001-01-01T00:00:00Z"}, ["input", "expiresAt"]),
    (
        "zero requests",
        {"rateLimit": {"requests": 0, "perSeconds": 10}},
        ["input", "rateLimit", "requests"],
    ),
    (
        "negative period",
        {"rateLimit": {"requests": 10, "perSeconds": -1}},
        ["input", "rateLimit", "perSeconds"],
    ),
    (
        "unbounded requests",
        {"rateLimit": {"requests": 2_000_000_000, "perSeconds": 10}},
        ["input", "rateLimit", "requests"],
    ),
    ("ED25519 without public key", {"algorithm": "ED25519"}, ["input", "publicKey"]),
    (
        "ED25519 with garbage",
        {"algorithm": "ED25519", "publicKey": "bm90IGEga2V5"},
        ["input", "publicKey"],
    ),
    (
        "ED25519 with a small-order key",
        {"algorithm": "ED25519", "publicKey": base64.b64encode(bytes(32)).decode()},
        ["input", "publicKey"],
    ),
    ("HMAC with a public key", {"publicKey": "AAAA"}, ["input", "publicKey"]),
    ("WITHDRAW without allowlist", {"scopes": ["WITHDRAW"]}, ["input", "ipAllowlist"]),
    (
        "WITHDRAW with empty allowlist",
        {"scopes": ["WITHDRAW"], "ipAllowlist": []},
        ["input", "ipAllowlist"],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [pytest.param(o, f, id=name) for name, o, f in INVALID_INPUTS],
)
async def test_invalid_create_input_is_reported_with_its_field(
    client: httpx.AsyncClient, rt: Runtime, overrides: dict[str, Any], field: list[str]
) -> None:
    user = await signed_up_user(client, rt)
    payload = await create(client, user, **overrides)
    assert codes_and_fields(payload) == [("INVALID_INPUT", field)]
    assert payload["challenge"] is None
    assert await raw_rows("api_keys") == []


async def test_every_invalid_field_is_reported_at_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    payload = await create(
        client, user, label="", scopes=[], ipAllowlist=["nope"], publicKey="AAAA"
    )
    assert sorted(f for _, f in codes_and_fields(payload) if f is not None) == [
        ["input", "ipAllowlist", "0"],
        ["input", "label"],
        ["input", "publicKey"],
        ["input", "scopes"],
    ]


async def test_an_unknown_scope_is_rejected_by_the_schema(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    body = await gql(client, CREATE, {"input": key_input(scopes=["TELEPORT"])}, token=user.token)
    assert body.get("errors")
    assert body.get("data") is None
    assert await raw_rows("api_keys") == []


# --- policies -----------------------------------------------------------------------------


async def test_allowlist_entries_are_normalised(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    payload = await new_key(
        client,
        rt,
        user,
        ipAllowlist=[
            " 10.0.0.7/24 ",
            "2001:DB8:0:0::1",
            "2001:db8::/32",
            "::ffff:1.2.3.4",
            "192.168.1.1/32",
            "10.0.0.0/24",
        ],
    )
    assert payload["apiKey"]["ipAllowlist"] == [
        "10.0.0.0/24",
        "2001:db8::1",
        "2001:db8::/32",
        "1.2.3.4",
        "192.168.1.1",
    ]


async def test_withdraw_is_allowed_with_an_allowlist(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    payload = await new_key(client, rt, user, scopes=["WITHDRAW"], ipAllowlist=["203.0.113.9"])
    # Granted, and cooling off before it takes effect (tests/api/test_cooling_off.py).
    assert payload["apiKey"]["scopes"] == []
    body = await gql(
        client,
        "query ($id: ID!) { apiKey(id: $id) { pendingChange { scopes ipAllowlist } } }",
        {"id": payload["apiKey"]["id"]},
        token=user.token,
    )
    assert body["data"]["apiKey"]["pendingChange"] == {
        "scopes": ["WITHDRAW"],
        "ipAllowlist": ["203.0.113.9"],
    }


async def test_key_without_allowlist_and_expiry_is_clamped_to_90_days(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    created = await create(client, user)
    now = rt.clock.now()
    assert user.seed is not None
    key = (await verify(client, user, created["challenge"]["id"], next_code(user.seed, rt)))[
        "apiKey"
    ]
    assert key["expiryClamped"] is True
    expires = datetime.fromisoformat(key["expiresAt"])
    assert abs((expires - (now + timedelta(days=90))).total_seconds()) < 5


async def test_key_without_allowlist_and_a_later_expiry_is_clamped(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    wanted = rt.clock.now() + timedelta(days=200)
    key = (await new_key(client, rt, user, expiresAt=wanted.isoformat()))["apiKey"]
    assert key["expiryClamped"] is True
    assert datetime.fromisoformat(key["expiresAt"]) < rt.clock.now() + timedelta(days=91)


async def test_key_with_an_earlier_expiry_keeps_it(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    wanted = (rt.clock.now() + timedelta(days=10)).replace(microsecond=0)
    key = (await new_key(client, rt, user, expiresAt=wanted.isoformat()))["apiKey"]
    assert key["expiryClamped"] is False
    assert datetime.fromisoformat(key["expiresAt"]) == wanted


async def test_key_with_an_allowlist_may_live_longer_or_forever(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    wanted = (rt.clock.now() + timedelta(days=400)).replace(microsecond=0)
    key = (await new_key(client, rt, user, ipAllowlist=["10.1.2.3"], expiresAt=wanted.isoformat()))[
        "apiKey"
    ]
    assert key["expiryClamped"] is False
    assert datetime.fromisoformat(key["expiresAt"]) == wanted
    forever = (await new_key(client, rt, user, ipAllowlist=["10.1.2.3"]))["apiKey"]
    assert forever["expiresAt"] is None
    assert forever["expiryClamped"] is False


async def test_an_account_holds_at_most_20_live_keys(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    for i in range(20):
        await new_key(client, rt, user, label=f"key {i}")
    payload = await create(client, user, label="one too many")
    assert codes_and_fields(payload) == [("LIMIT_REACHED", None)]
    # Deleting one frees a place.
    listing = await gql(client, LIST, {"first": 1}, token=user.token)
    key_id = listing["data"]["apiKeys"]["nodes"][0]["id"]
    deleted = await gql(client, DELETE, {"input": {"id": key_id}}, token=user.token)
    assert deleted["data"]["deleteApiKey"]["userErrors"] == []
    await new_key(client, rt, user, label="replacement")


async def test_expired_keys_do_not_count_against_the_limit(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    settings_limit = rt.settings.max_live_keys
    user = await signed_up_user(client, rt)
    # Each confirmation moves the clock one TOTP step (30 s) on.
    soon = rt.clock.now() + timedelta(minutes=15)
    for i in range(settings_limit):
        await new_key(client, rt, user, label=f"key {i}", expiresAt=soon.isoformat())
    assert codes_and_fields(await create(client, user)) == [("LIMIT_REACHED", None)]
    rt.clock.advance(10 * 60)  # within the session's idle limit
    assert (await create(client, user))["userErrors"] == []


async def test_custom_and_default_rate_limits(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    default = (await new_key(client, rt, user))["apiKey"]
    assert default["rateLimit"] == {"requests": 1000, "perSeconds": 10}
    custom = (await new_key(client, rt, user, rateLimit={"requests": 5, "perSeconds": 60}))[
        "apiKey"
    ]
    assert custom["rateLimit"] == {"requests": 5, "perSeconds": 60}


# --- key material -------------------------------------------------------------------------


async def test_hmac_key_has_public_id_and_checksummed_secret(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    payload = await new_key(client, rt, user, label="  padded label  ")
    key = payload["apiKey"]
    assert key["label"] == "padded label"
    assert key["algorithm"] == "HMAC_SHA512"
    assert key["status"] == "ACTIVE"
    assert looks_like_public_key_id(key["key"])
    assert secret_checksum_valid(payload["secret"])
    assert not payload["secret"].startswith(key["key"])


@pytest.mark.parametrize("form", ["pem", "base64", "urlsafe-unpadded"])
async def test_ed25519_key_accepts_pem_or_base64_and_stores_only_the_public_key(
    client: httpx.AsyncClient, rt: Runtime, form: str
) -> None:
    raw, pem, b64 = ed25519_public_key()
    text = {
        "pem": pem,
        "base64": b64,
        "urlsafe-unpadded": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }[form]
    user = await signed_up_user(client, rt)
    payload = await new_key(client, rt, user, algorithm="ED25519", publicKey=text)
    assert payload["secret"] is None
    assert payload["apiKey"]["algorithm"] == "ED25519"
    (row,) = await raw_rows("api_keys")
    assert row["public_key"] == b64
    assert row["secret_sealed"] is None
