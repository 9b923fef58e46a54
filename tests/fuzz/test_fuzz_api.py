"""Hostile input through the HTTP API: never a 500, never an unmasked crash, and a
refused request writes nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gql_keys.models import ApiKey, KeyChallenge, User
from gql_keys.runtime import Runtime
from gql_keys.services.accounts import normalise_email
from harness.accounts import TestUser, signed_up_user
from harness.graphql import gql
from harness.keys import verifier_token
from tests.fuzz import strategies as s

API = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CREATE_KEY = """
mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { challenge { id expiresAt } userErrors { field code message } }
}
"""
VERIFY = """
mutation ($input: VerifyApiRequestInput!) {
  verifyApiRequest(input: $input) { allowed code userErrors { code } }
}
"""


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    """One operation; whatever the input, never an unexpected (masked) server error."""
    body = await gql(client, query, variables, token=token)
    assert "INTERNAL_SERVER_ERROR" not in json.dumps(body), body
    return body


@API
@given(
    label=s.text,
    scopes=s.scopes,
    allowlist=s.allowlists,
    expires=st.one_of(st.none(), s.datetimes_text),
    algorithm=st.sampled_from(["HMAC_SHA512", "ED25519", "RSA"]),
    public_key=st.one_of(st.none(), s.text, s.signatures),
    rate_limit=st.one_of(
        st.none(), st.fixed_dictionaries({"requests": s.ints, "perSeconds": s.ints})
    ),
)
async def test_create_api_key_survives_hostile_input_without_partial_writes(
    client: httpx.AsyncClient,
    rt: Runtime,
    label: str,
    scopes: list[str],
    allowlist: list[str] | None,
    expires: str | None,
    algorithm: str,
    public_key: str | None,
    rate_limit: dict[str, int] | None,
) -> None:
    user = await _user(client, rt)
    keys_before = await ApiKey.all().count()
    challenges_before = await KeyChallenge.all().count()
    body = await post(
        client,
        CREATE_KEY,
        {
            "input": {
                "label": label,
                "scopes": scopes,
                "ipAllowlist": allowlist,
                "expiresAt": expires,
                "algorithm": algorithm,
                "publicKey": public_key,
                "rateLimit": rate_limit,
            }
        },
        token=user.token,
    )
    payload = (body.get("data") or {}).get("createApiKey")
    if payload is None or payload["userErrors"]:
        assert await ApiKey.all().count() == keys_before
        assert await KeyChallenge.all().count() == challenges_before
    else:
        assert payload["challenge"]["id"]
        # Pending keys are not listed and cannot be used; clean up for the key limit.
        await KeyChallenge.all().delete()
        await ApiKey.filter(state="pending").delete()


@API
@given(
    key=st.one_of(s.text, st.just("gqk_" + "0" * 32)),
    signature=s.signatures,
    timestamp=s.timestamps,
    method=st.one_of(st.sampled_from(["GET", "POST", "DELETE", "get"]), s.text),
    path=st.one_of(st.just("/api/v4/spot/orders"), s.text, s.long_text),
    query=s.text,
    body_sha=st.one_of(s.signatures, s.text),
    client_ip=s.address_like,
    scope=st.one_of(s.scope_names, st.just("NOPE")),
)
async def test_verify_api_request_survives_hostile_input(
    client: httpx.AsyncClient,
    rt: Runtime,
    key: str,
    signature: str,
    timestamp: str,
    method: str,
    path: str,
    query: str,
    body_sha: str,
    client_ip: str,
    scope: str,
) -> None:
    token = await _verifier()
    body = await post(
        client,
        VERIFY,
        {
            "input": {
                "key": key,
                "signature": signature,
                "timestamp": timestamp,
                "method": method,
                "path": path,
                "query": query,
                "bodySha512": body_sha,
                "clientIp": client_ip,
                "requiredScope": scope,
            }
        },
        token=token,
    )
    payload = (body.get("data") or {}).get("verifyApiRequest")
    if payload is not None:
        assert payload["allowed"] is False


@API
@given(email=s.emails, password=st.one_of(s.text, s.long_text), totp=st.one_of(st.none(), s.text))
async def test_register_and_login_survive_hostile_input(
    client: httpx.AsyncClient, email: str, password: str, totp: str | None
) -> None:
    users_before = await User.all().count()
    body = await post(
        client,
        "mutation ($i: RegisterInput!) { register(input: $i) { user { id } userErrors { code } } }",
        {"i": {"email": email, "password": password}},
    )
    payload = body["data"]["register"]
    expected = users_before + (1 if payload["user"] else 0)
    assert await User.all().count() == expected
    body = await post(
        client,
        "mutation ($i: LoginInput!) { login(input: $i) { token userErrors { code } } }",
        {"i": {"email": email, "password": password, "totpCode": totp}},
    )
    # Hypothesis may repeat an email (and password) across examples: an account that
    # already existed may log in, one that never did may not.
    normalised = normalise_email(email)
    exists = normalised is not None and await User.filter(email=normalised).exists()
    assert body["data"]["login"]["token"] is None or exists


@API
@given(global_id=s.global_ids, cursor=s.cursors, first=st.one_of(st.none(), s.ints))
async def test_ids_and_cursors_survive_hostile_input(
    client: httpx.AsyncClient, rt: Runtime, global_id: str, cursor: str, first: int | None
) -> None:
    user = await _user(client, rt)
    await post(
        client,
        """query ($id: ID!, $after: String, $first: Int) {
          node(id: $id) { id }
          apiKey(id: $id) { id }
          apiKeys(first: $first, after: $after) { totalCount edges { cursor } }
        }""",
        {"id": global_id, "after": cursor, "first": first},
        token=user.token,
    )
    await post(
        client,
        """query ($id: ID, $after: String, $first: Int, $ip: String) {
          usageLogs(filter: {keyId: $id, clientIp: $ip}, first: $first, after: $after) {
            totalCount
          }
        }""",
        {"id": global_id, "after": cursor, "first": first, "ip": cursor},
        token=user.token,
    )


@API
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["query", "variables", "operationName", "extensions"]),
                    children,
                    max_size=4,
                )
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    content_type=st.sampled_from(
        ["application/json", "application/graphql-response+json", "text/plain"]
    ),
)
async def test_raw_bodies_never_cause_a_server_error(
    client: httpx.AsyncClient, body: bytes, content_type: str
) -> None:
    response = await client.post("/graphql", content=body, headers={"content-type": content_type})
    assert response.status_code in (200, 400, 405, 413, 415), response.status_code
    assert "INTERNAL_SERVER_ERROR" not in response.text


_users: dict[int, TestUser] = {}
_verifiers: dict[int, str] = {}


async def _user(client: httpx.AsyncClient, rt: Runtime) -> TestUser:
    """One 2FA-enabled user per app (examples of one test share the app)."""
    if id(rt) not in _users or not await User.exists(id=_users[id(rt)].user_id):
        _users[id(rt)] = await signed_up_user(client, rt)
    return _users[id(rt)]


async def _verifier() -> str:
    from gql_keys.models import ServiceToken

    if not await ServiceToken.exists():
        _verifiers.clear()
    if 0 not in _verifiers:
        _verifiers[0] = await verifier_token(name="fuzz-gateway")
    return _verifiers[0]
