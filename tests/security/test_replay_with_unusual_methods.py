"""Replaying a signed request whose method is neither GET nor HEAD: the scope rules have
always treated every such method as a write, but replay protection covered only POST,
PUT, PATCH and DELETE, so a signed ``OPTIONS``, ``PROPFIND`` or made-up ``FOO`` could be
sent again and again. Now every method but GET and HEAD is state-changing, and a method
must be an RFC 9110 token of letters (at most 16), upper-cased; anything else is 400
``INVALID_REQUEST`` with no row."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gql_keys.models import UsageLog
from gql_keys.runtime import Runtime
from harness.authz import PartnerRequest, check
from harness.graphql import gql
from harness.keys import VERIFY, create_active_key, create_user, verifier_token, verify_input


async def spot_writer(rt: Runtime) -> tuple[str, str]:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, scopes=["SPOT_WRITE"])
    return row.key, secret


@pytest.mark.parametrize("method", ["OPTIONS", "PROPFIND", "FOO", "patch"])
async def test_a_signed_request_of_any_method_but_get_and_head_cannot_be_replayed(
    client: httpx.AsyncClient, rt: Runtime, method: str
) -> None:
    key, secret = await spot_writer(rt)
    token = await verifier_token()
    request = PartnerRequest(
        key=key, secret=secret, timestamp=f"{rt.clock.time():.4f}", method=method
    )
    first = await check(client, "nginx", request, token)
    assert first.status_code == 200, first.text
    again = await check(client, "nginx", request, token)
    assert (again.status_code, again.json()["label"]) == (401, "REQUEST_REPLAYED")
    rows = await UsageLog.all().order_by("id")
    assert [(r.method, r.code) for r in rows] == [
        (method.upper(), "VALID"),
        (method.upper(), "REPLAYED"),
    ]


async def test_verify_api_request_refuses_the_replay_too(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    key, secret = await spot_writer(rt)
    token = await verifier_token()
    data: dict[str, Any] = verify_input(
        key, secret, now=rt.clock.time(), method="OPTIONS", required_scope="SPOT_WRITE"
    )
    codes = []
    for _ in range(2):
        body = await gql(client, VERIFY, {"input": data}, token=token)
        codes.append(body["data"]["verifyApiRequest"]["code"])
    assert codes == ["VALID", "REPLAYED"]


async def test_head_and_get_may_repeat(client: httpx.AsyncClient, rt: Runtime) -> None:
    key, secret = await spot_writer(rt)
    token = await verifier_token()
    for method in ("GET", "HEAD", "get"):
        request = PartnerRequest(
            key=key, secret=secret, timestamp=f"{rt.clock.time():.4f}", method=method
        )
        for _ in range(2):
            assert (await check(client, "nginx", request, token)).status_code == 200


# Envoy's dialect has no method header: its method is the check request's own, which the
# HTTP server has parsed already.
@pytest.mark.parametrize("dialect", ["nginx", "traefik"])
@pytest.mark.parametrize("method", ["G-T", "GET POST", "GET1", "A" * 17, "PO\tST"])
async def test_a_method_that_is_not_a_token_of_letters_is_refused(
    client: httpx.AsyncClient, rt: Runtime, dialect: str, method: str
) -> None:
    key, secret = await spot_writer(rt)
    request = PartnerRequest(
        key=key, secret=secret, timestamp=f"{rt.clock.time():.4f}", method=method
    )
    response = await check(client, dialect, request, await verifier_token())
    assert (response.status_code, response.json()["label"]) == (400, "INVALID_REQUEST")
    assert await UsageLog.all().count() == 0


async def test_verify_api_request_grants_no_key_a_method_that_is_not_a_token(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    key, secret = await spot_writer(rt)
    data = verify_input(key, secret, now=rt.clock.time(), method="GET,POST")
    query = """mutation ($input: VerifyApiRequestInput!) {
      verifyApiRequest(input: $input) { allowed code userErrors { field code } } }"""
    body = await gql(client, query, {"input": data}, token=await verifier_token())
    assert body["data"]["verifyApiRequest"] == {
        "allowed": False,
        "code": "SCOPE_NOT_GRANTED",
        "userErrors": [{"field": ["input", "method"], "code": "INVALID_INPUT"}],
    }
