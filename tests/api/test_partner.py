"""Partners calling /graphql with signed requests (KEY, Timestamp, SIGN)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gql_keys.app import create_app, runtime_of
from gql_keys.clock import Clock
from gql_keys.models import ApiKey, UsageLog, User
from gql_keys.runtime import Runtime
from gql_keys.settings import Settings
from harness.graphql import error_codes
from harness.keys import create_active_key, create_user, sign_request

CURRENT = "{ currentApiKey { id key scopes } }"


async def partner_post(
    client: httpx.AsyncClient,
    row: ApiKey,
    secret: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    timestamp: str,
    extra_headers: dict[str, str] | None = None,
    tamper: bool = False,
) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    headers = sign_request(secret, "POST", "/graphql", "", body, timestamp, key=row.key)
    headers["content-type"] = "application/json"
    headers.update(extra_headers or {})
    if tamper:
        body = body.replace(b"query", b"query ", 1)
    response = await client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
async def partner(rt: Runtime) -> tuple[ApiKey, str]:
    user = await create_user()
    return await create_active_key(rt, user.id, scopes=["SPOT_READ"])


async def test_signed_request_reads_current_api_key(
    client: httpx.AsyncClient, rt: Runtime, partner: tuple[ApiKey, str]
) -> None:
    row, secret = partner
    body = await partner_post(client, row, secret, CURRENT, timestamp=str(int(rt.clock.time())))
    assert "errors" not in body
    assert body["data"]["currentApiKey"]["key"] == row.key
    assert body["data"]["currentApiKey"]["scopes"] == ["SPOT_READ"]
    log = await UsageLog.get(api_key_id=row.id)
    assert (log.code, log.allowed, log.method, log.path, log.required_scope) == (
        "VALID",
        True,
        "POST",
        "/graphql",
        None,
    )
    assert log.client_ip == "127.0.0.1"


async def test_current_api_key_is_null_without_a_signature(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": CURRENT})
    assert response.json()["data"] == {"currentApiKey": None}


async def test_bad_signature_is_unauthenticated_and_logged(
    client: httpx.AsyncClient, rt: Runtime, partner: tuple[ApiKey, str]
) -> None:
    row, secret = partner
    ts = str(int(rt.clock.time()))
    body = await partner_post(client, row, secret, CURRENT, timestamp=ts, tamper=True)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None
    log = await UsageLog.get(api_key_id=row.id)
    assert (log.code, log.allowed) == ("INVALID_SIGNATURE", False)


async def test_incomplete_signature_headers_are_unauthenticated(
    client: httpx.AsyncClient, partner: tuple[ApiKey, str]
) -> None:
    row, _ = partner
    response = await client.post("/graphql", json={"query": CURRENT}, headers={"KEY": row.key})
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


async def test_replayed_partner_post_is_unauthenticated(
    client: httpx.AsyncClient, rt: Runtime, partner: tuple[ApiKey, str]
) -> None:
    row, secret = partner
    ts = str(int(rt.clock.time()))
    assert "errors" not in await partner_post(client, row, secret, CURRENT, timestamp=ts)
    again = await partner_post(client, row, secret, CURRENT, timestamp=ts)
    assert error_codes(again) == ["UNAUTHENTICATED"]
    codes = [log.code for log in await UsageLog.all().order_by("id")]
    assert codes == ["VALID", "REPLAYED"]


async def test_partner_may_not_manage_keys_or_accounts(
    client: httpx.AsyncClient, rt: Runtime, partner: tuple[ApiKey, str]
) -> None:
    row, secret = partner
    operations = [
        'mutation { createApiKey(input: {label: "x", scopes: [SPOT_READ]})'
        " { userErrors { code } } }",
        'mutation { deleteApiKey(input: {id: "QXBpS2V5OjE="}) { userErrors { code } } }',
        'mutation { beginTwoFactorSetup(input: {password: "x"}) { userErrors { code } } }',
        "mutation { logout { userErrors { code } } }",
        'mutation { register(input: {email: "p@example.com", password: "a long passphrase ok"})'
        " { userErrors { code } } }",
        'mutation { login(input: {email: "p@example.com", password: "a long passphrase ok"})'
        " { token } }",
        'mutation { confirmTwoFactorSetup(input: {code: "123456"}) { userErrors { code } } }',
        'mutation { verifyTwoFactor(input: {challengeId: "kch_x", code: "123456"})'
        " { userErrors { code } } }",
    ]
    for i, operation in enumerate(operations):
        body = await partner_post(
            client, row, secret, operation, timestamp=str(int(rt.clock.time()) + i)
        )
        assert error_codes(body) == ["FORBIDDEN"], (operation, body)
    assert await ApiKey.filter(user_id=row.user_id).count() == 1
    assert await User.filter(email="p@example.com").count() == 0


async def test_partner_may_not_call_verify_api_request(
    client: httpx.AsyncClient, rt: Runtime, partner: tuple[ApiKey, str]
) -> None:
    row, secret = partner
    operation = """mutation { verifyApiRequest(input: {key: "k", signature: "s", timestamp: "1",
      method: "GET", path: "/", bodySha512: "", clientIp: "127.0.0.1",
      requiredScope: SPOT_READ}) { allowed } }"""
    body = await partner_post(client, row, secret, operation, timestamp=str(int(rt.clock.time())))
    assert error_codes(body) == ["FORBIDDEN"]


async def test_partner_reads_only_its_own_usage_logs(
    client: httpx.AsyncClient, rt: Runtime, partner: tuple[ApiKey, str]
) -> None:
    row, secret = partner
    other, other_secret = await create_active_key(rt, row.user_id)
    ts = int(rt.clock.time())
    await partner_post(client, other, other_secret, CURRENT, timestamp=str(ts))
    body = await partner_post(
        client, row, secret, "{ usageLogs { totalCount nodes { key } } }", timestamp=str(ts + 1)
    )
    assert "errors" not in body, body
    assert {n["key"] for n in body["data"]["usageLogs"]["nodes"]} == {row.key}


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, ip_allowlist=["203.0.113.7"])
    body = await partner_post(
        client,
        row,
        secret,
        CURRENT,
        timestamp=str(int(rt.clock.time())),
        extra_headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7"},
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]
    log = await UsageLog.get(api_key_id=row.id)
    assert (log.code, log.client_ip) == ("IP_NOT_ALLOWED", "127.0.0.1")


@pytest.fixture
async def proxied_app(settings: Settings, clock: Clock) -> AsyncIterator[Starlette]:
    trusted = settings.with_overrides(trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),))
    application = create_app(trusted, clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.mark.parametrize(("peer", "code"), [("10.1.2.3", "VALID"), ("192.0.2.9", "IP_NOT_ALLOWED")])
async def test_forwarded_for_is_honoured_only_from_a_trusted_proxy(
    proxied_app: Starlette, app: Starlette, peer: str, code: str
) -> None:
    rt = runtime_of(proxied_app)
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, ip_allowlist=["203.0.113.7"])
    transport = httpx.ASGITransport(app=proxied_app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        await partner_post(
            c,
            row,
            secret,
            CURRENT,
            timestamp=str(int(rt.clock.time())),
            extra_headers={"X-Forwarded-For": "203.0.113.7"},
        )
    log = await UsageLog.get(api_key_id=row.id)
    assert log.code == code
