"""``/authz``: every decision in each gateway dialect, with the contract's status, Gate
label and headers, and the same usage row and event as ``verifyApiRequest``."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise.connection import connections

from gql_keys.app import create_app
from gql_keys.clock import Clock
from gql_keys.global_ids import encode_global_id
from gql_keys.models import ApiKey, UsageLog
from gql_keys.runtime import Runtime
from gql_keys.scope_rules import ScopeRulesError
from gql_keys.security.keymaterial import new_public_key_id
from gql_keys.settings import Settings
from harness.accounts import signed_up_user
from harness.apps import serving
from harness.authz import DIALECTS, PartnerRequest, check, check_request
from harness.graphql import gql
from harness.keys import (
    VERIFY,
    create_active_key,
    create_user,
    monitor_token,
    verifier_token,
)
from harness.windows import start_of_window


def partner(rt: Runtime, row: ApiKey, secret: str, **changes: Any) -> PartnerRequest:
    base = PartnerRequest(key=row.key, secret=secret, timestamp=f"{rt.clock.time():.4f}")
    base.headers["X-Real-IP"] = "203.0.113.7"
    return replace(base, **changes)


def label(response: httpx.Response) -> str:
    value: str = response.json()["label"]
    assert response.headers["x-error-label"] == value  # for gateways that drop the body
    return value


async def rows() -> list[UsageLog]:
    return await UsageLog.all().order_by("id")


# (code, status, label) and how to provoke it: key options, then request changes.
CASES: list[tuple[str, int, str]] = [
    ("VALID", 200, ""),
    ("KEY_NOT_FOUND", 401, "INVALID_KEY"),
    ("KEY_DELETED", 401, "INVALID_KEY"),
    ("KEY_EXPIRED", 401, "INVALID_KEY"),
    ("INVALID_SIGNATURE", 401, "INVALID_SIGNATURE"),
    ("TIMESTAMP_OUT_OF_WINDOW", 401, "REQUEST_EXPIRED"),
    ("REPLAYED", 401, "REQUEST_REPLAYED"),
    ("IP_NOT_ALLOWED", 403, "IP_FORBIDDEN"),
    ("SCOPE_NOT_GRANTED", 403, "READ_ONLY"),
    ("SCOPE_NOT_GRANTED", 403, "FORBIDDEN"),
    ("RATE_LIMITED", 429, "TOO_MANY_REQUESTS"),
]


async def provoke(
    client: httpx.AsyncClient, rt: Runtime, dialect: str, code: str, expected_label: str
) -> tuple[httpx.Response, ApiKey]:
    """Set up a key and send the check request(s) whose last answer is ``code``."""
    user = await create_user()
    options: dict[str, Any] = {}
    if code == "IP_NOT_ALLOWED":
        options["ip_allowlist"] = ["198.51.100.0/24"]
    if code == "KEY_EXPIRED":
        options["expires_at"] = rt.clock.now() + timedelta(seconds=30)
    if code == "RATE_LIMITED":
        options["rate_limit"] = (1, 60)
        start_of_window(rt, 60)
    if code == "SCOPE_NOT_GRANTED":
        options["scopes"] = ["WALLET_READ"]
    row, secret = await create_active_key(rt, user.id, **options)
    token = await verifier_token()
    if code == "KEY_DELETED":
        await ApiKey.filter(id=row.id).update(deleted_at=rt.clock.now())
        await rt.key_cache.invalidate(row.key)
    if code == "KEY_EXPIRED":
        rt.clock.advance(31)
    request = partner(rt, row, secret)
    if code == "KEY_NOT_FOUND":
        request.key = new_public_key_id()
    elif code == "INVALID_SIGNATURE":
        request.signature = "ab" * 64
    elif code == "TIMESTAMP_OUT_OF_WINDOW":
        request.timestamp = str(int(rt.clock.time()) - 120)
    elif code == "SCOPE_NOT_GRANTED" and expected_label == "READ_ONLY":
        request = replace(request, method="POST", path="/api/v4/wallet/transfers", query="")
    elif code == "SCOPE_NOT_GRANTED":
        request = replace(request, path="/api/v4/futures/orders")
    elif code == "REPLAYED":
        request = replace(request, method="DELETE", path="/api/v4/spot/orders/12", query="")
    if code in ("REPLAYED", "RATE_LIMITED"):
        first = await check(client, dialect, request, token)
        assert first.status_code == 200, first.text
        if code == "RATE_LIMITED":
            request.timestamp = f"{rt.clock.time() + 0.5:.4f}"
    return await check(client, dialect, request, token), row


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("code", "status", "expected_label"), CASES)
async def test_every_decision_has_its_status_label_headers_and_row(
    client: httpx.AsyncClient,
    rt: Runtime,
    dialect: str,
    code: str,
    status: int,
    expected_label: str,
) -> None:
    response, row = await provoke(client, rt, dialect, code, expected_label)
    assert response.status_code == status, response.text
    assert response.headers["x-verification-code"] == code
    if status == 200:
        assert response.content == b""
        assert "x-error-label" not in response.headers
        assert response.headers["x-api-key-id"] == encode_global_id("ApiKey", row.id)
        assert response.headers["x-account-id"] == encode_global_id("User", row.user_id)
    else:
        assert label(response) == expected_label
        assert response.json()["message"]
        assert "x-api-key-id" not in response.headers
        assert "x-account-id" not in response.headers
    quota_used = code in ("VALID", "RATE_LIMITED")
    assert ("x-ratelimit-limit" in response.headers) is quota_used
    if quota_used:
        assert response.headers["x-ratelimit-limit"] == ("1" if code == "RATE_LIMITED" else "1000")
        assert int(response.headers["x-ratelimit-reset"]) >= math.floor(rt.clock.time())
    if code == "RATE_LIMITED":
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert 1 <= int(response.headers["retry-after"]) <= 60
    else:
        assert "retry-after" not in response.headers
    last = (await rows())[-1]
    assert (last.code, last.allowed) == (code, code == "VALID")
    assert last.client_ip == "203.0.113.7"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_method_path_and_query_are_read_per_dialect(
    client: httpx.AsyncClient, rt: Runtime, dialect: str
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id)
    request = partner(
        rt,
        row,
        secret,
        method="DELETE",
        path="/api/v4/spot/orders/7%2B1",
        query="currency_pair=BTC_USDT&text=a%20b",
    )
    response = await check(client, dialect, request, await verifier_token())
    assert response.status_code == 200, response.text
    last = (await rows())[-1]
    assert (last.method, last.path, last.required_scope) == (
        "DELETE",
        "/api/v4/spot/orders/7%2B1",
        "SPOT_WRITE",
    )


async def test_envoy_body_is_hashed_and_a_changed_body_fails(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id)
    token = await verifier_token()
    body = b'{"currency_pair":"BTC_USDT","side":"buy","amount":"1"}'
    request = partner(rt, row, secret, method="POST", query="", body=body)
    assert (await check(client, "envoy", request, token)).status_code == 200
    tampered = partner(rt, row, secret, method="POST", query="", body=body)
    sent = tampered.signed_headers()
    tampered.signature, tampered.body = sent["SIGN"], body.replace(b"1", b"9")
    response = await check(client, "envoy", tampered, token)
    assert (response.status_code, label(response)) == (401, "INVALID_SIGNATURE")


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_body_sha512_header_stands_for_the_body(
    client: httpx.AsyncClient, rt: Runtime, dialect: str
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id)
    token = await verifier_token()
    body = b'{"amount":"2"}'
    request = partner(rt, row, secret, method="POST", query="", body=body)
    request.signature = request.signed_headers()["SIGN"]
    request.headers["X-Body-Sha512"] = hashlib.sha512(body).hexdigest()
    request.body = b""  # not sent: the header carries its hash
    assert (await check(client, dialect, request, token)).status_code == 200
    # A hash of another body than the signed one: the signature fails; and where the
    # check request carries the body too (Envoy), the mismatch is refused before that.
    other = replace(request, timestamp=f"{rt.clock.time() + 1:.4f}", signature=None, body=body)
    other.headers = {**request.headers, "X-Body-Sha512": hashlib.sha512(b"other").hexdigest()}
    response = await check(client, dialect, other, token)
    expected = (400, "INVALID_REQUEST") if dialect == "envoy" else (401, "INVALID_SIGNATURE")
    assert (response.status_code, label(response)) == expected


async def test_check_announced_empty_is_judged_on_the_empty_body_or_the_header(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    """nginx announces ``Content-Length: 0`` on every check: no body, so the signature is
    checked over the empty body's hash, or over ``X-Body-Sha512`` when it is sent."""
    user = await create_user()
    row, secret = await create_active_key(rt, user.id)
    token = await verifier_token()
    empty = partner(rt, row, secret)
    empty.headers["Content-Length"] = "0"
    assert (await check(client, "nginx", empty, token)).status_code == 200
    body = b'{"amount":"3"}'
    posted = partner(rt, row, secret, method="POST", query="", body=body)
    posted.signature = posted.signed_headers()["SIGN"]
    posted.headers["X-Body-Sha512"] = hashlib.sha512(body).hexdigest()
    posted.headers["Content-Length"] = "0"
    posted.body = b""
    assert (await check(client, "nginx", posted, token)).status_code == 200
    forged = replace(posted, timestamp=f"{rt.clock.time() + 1:.4f}", signature=None)
    forged.signature = forged.signed_headers()["SIGN"]
    forged.headers = {**posted.headers, "X-Body-Sha512": hashlib.sha512(b"other").hexdigest()}
    response = await check(client, "nginx", forged, token)
    assert (response.status_code, label(response)) == (401, "INVALID_SIGNATURE")


@pytest.mark.parametrize(
    ("headers", "seen"),
    [
        (
            {"X-Real-IP": "203.0.113.9", "X-Forwarded-For": "198.51.100.1, 203.0.113.9"},
            "203.0.113.9",
        ),
        ({"X-Real-IP": "203.0.113.9"}, "203.0.113.9"),
        ({"X-Forwarded-For": "198.51.100.1, 203.0.113.5"}, "203.0.113.5"),
        ({"X-Forwarded-For": "203.0.113.5, 198.51.100.1"}, "198.51.100.1"),
        ({}, "127.0.0.1"),  # the connection's peer
    ],
)
async def test_client_address_is_real_ip_else_last_forwarded_else_peer(
    client: httpx.AsyncClient, rt: Runtime, headers: dict[str, str], seen: str
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, ip_allowlist=["203.0.113.0/24", "127.0.0.1"])
    request = partner(rt, row, secret)
    request.headers = headers
    response = await check(client, "nginx", request, await verifier_token())
    allowed = seen != "198.51.100.1"
    assert response.status_code == (200 if allowed else 403)
    last = (await rows())[-1]
    assert (last.client_ip, last.allowed) == (seen, allowed)


async def test_verifier_token_is_required_and_only_a_verifier_token(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    owner = await signed_up_user(client, rt)
    row, secret = await create_active_key(rt, owner.user_id)
    await verifier_token()
    wrong = [
        None,
        "",
        "gksvc_" + "A" * 43,  # shaped like a service token, never issued
        await monitor_token(),
        owner.token,  # a dashboard session
        row.key,  # the partner's own credentials
        secret,
    ]
    for dialect in DIALECTS:
        for token in wrong:
            response = await check(client, dialect, partner(rt, row, secret), token)
            assert (response.status_code, label(response)) == (401, "INVALID_VERIFIER")
            assert "x-verification-code" not in response.headers
    assert await UsageLog.all().count() == 0


async def test_missing_signature_header_is_refused_without_a_row(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id)
    token = await verifier_token()
    for missing in ("KEY", "Timestamp", "SIGN"):
        arguments: dict[str, Any] = {
            "url": "/authz/api/v4/spot/orders",
            "headers": {
                **partner(rt, row, secret, query="").signed_headers(),
                "X-Verifier-Token": token,
            },
        }
        del arguments["headers"][missing]
        response = await client.get(**arguments)
        assert (response.status_code, label(response)) == (401, "MISSING_REQUIRED_HEADER")
    assert await UsageLog.all().count() == 0


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/api/v4/spot/accounts", "SPOT_READ"),
        ("HEAD", "/api/v4/margin/loans", "MARGIN_READ"),
        ("POST", "/api/v4/futures/usdt/orders", "FUTURES_WRITE"),
        ("PUT", "/api/v4/delivery/usdt/orders", "DELIVERY_WRITE"),
        ("PATCH", "/api/v4/options/orders", "OPTIONS_WRITE"),
        ("DELETE", "/api/v4/account/stp_groups/1", "ACCOUNT_WRITE"),
        ("GET", "/api/v4/wallet/deposits", "WALLET_READ"),
        ("GET", "/api/v4/withdrawals", "WITHDRAW"),
        ("POST", "/api/v4/withdrawals/push", "WITHDRAW"),
    ],
)
async def test_builtin_rules_follow_gates_layout(
    client: httpx.AsyncClient, rt: Runtime, method: str, path: str, scope: str
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, scopes=["SPOT_READ"])
    request = partner(rt, row, secret, method=method, path=path, query="")
    await check(client, "traefik", request, await verifier_token())
    assert (await rows())[-1].required_scope == scope


@pytest.mark.parametrize(
    ("path", "status", "expected_label"),
    [
        ("/api/v4/unknown/things", 403, "FORBIDDEN"),
        ("/api/v4/spot", 403, "FORBIDDEN"),
        ("/healthz", 403, "FORBIDDEN"),
        # Outside the grammar: an upstream could serve it as another path.
        ("/api/v4/spot/../withdrawals", 400, "INVALID_PATH"),
        ("/api/v4/spot/%2e%2e/withdrawals", 400, "INVALID_PATH"),
        ("/api/v4/spot/orders%2F..%2F..%2Fwithdrawals", 400, "INVALID_PATH"),
        ("/api/v4/spot/..;/withdrawals", 400, "INVALID_PATH"),
    ],
)
async def test_a_path_no_rule_covers_or_outside_the_grammar_is_refused_without_a_row(
    client: httpx.AsyncClient, rt: Runtime, path: str, status: int, expected_label: str
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, scopes=["WITHDRAW", "SPOT_WRITE"])
    request = partner(rt, row, secret, path=path, query="")
    response = await check(client, "nginx", request, await verifier_token())
    assert (response.status_code, label(response)) == (status, expected_label)
    assert "x-verification-code" not in response.headers
    assert await UsageLog.all().count() == 0


async def test_required_scope_header_overrides_the_rules(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, scopes=["SPOT_WRITE"])
    token = await verifier_token()
    request = partner(rt, row, secret, path="/internal/custom", query="")
    request.headers["X-Required-Scope"] = "SPOT_READ"
    assert (await check(client, "traefik", request, token)).status_code == 200
    request.headers["X-Required-Scope"] = "WALLET_READ"
    request.timestamp = f"{rt.clock.time() + 1:.4f}"
    response = await check(client, "traefik", request, token)
    assert (response.status_code, label(response)) == (403, "FORBIDDEN")
    assert response.headers["x-verification-code"] == "SCOPE_NOT_GRANTED"
    request.headers["X-Required-Scope"] = "EVERYTHING"
    response = await check(client, "traefik", request, token)
    assert (response.status_code, label(response)) == (403, "FORBIDDEN")
    assert [(r.code, r.required_scope) for r in await rows()] == [
        ("VALID", "SPOT_READ"),
        ("SCOPE_NOT_GRANTED", "WALLET_READ"),
    ]


async def test_same_row_and_event_as_verify_api_request(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id)
    token = await verifier_token()
    subscriber = rt.hub.subscribe(lambda event: True)
    request = partner(rt, row, secret, method="DELETE", path="/api/v4/spot/orders/1", query="")
    response = await check(client, "nginx", request, token)
    assert response.status_code == 200
    graphql = replace(request, timestamp=f"{rt.clock.time() + 1:.4f}", signature=None)
    signed = graphql.signed_headers()
    body = await gql(
        client,
        VERIFY,
        {
            "input": {
                "key": row.key,
                "signature": signed["SIGN"],
                "timestamp": graphql.timestamp,
                "method": "DELETE",
                "path": "/api/v4/spot/orders/1",
                "query": "",
                "bodySha512": hashlib.sha512(b"").hexdigest(),
                "clientIp": "203.0.113.7",
                "requiredScope": "SPOT_WRITE",
            }
        },
        token=token,
    )
    assert body["data"]["verifyApiRequest"]["code"] == "VALID"
    by_authz, by_graphql = await rows()

    def fields(log: UsageLog) -> tuple[Any, ...]:
        return (
            log.api_key_id,
            log.key,
            log.allowed,
            log.code,
            log.client_ip,
            log.method,
            log.path,
            log.required_scope,
        )

    assert fields(by_authz) == fields(by_graphql)
    first, second = subscriber.queue.get_nowait(), subscriber.queue.get_nowait()
    assert (first.id, second.id) == (str(by_authz.id), str(by_graphql.id))
    assert replace(first, id="", occurred_at=second.occurred_at) == replace(second, id="")
    assert response.headers["x-ratelimit-remaining"] == "999"
    assert body["data"]["verifyApiRequest"]["rateLimit"]["remaining"] == 998


async def test_log_write_failure_answers_503_server_error(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id)
    token = await verifier_token()
    assert (await check(client, "envoy", partner(rt, row, secret), token)).status_code == 200
    connection = connections.all()[0]
    await connection.execute_script("ALTER TABLE usage_logs RENAME TO usage_logs_gone")
    try:
        request = partner(rt, row, secret, timestamp=f"{rt.clock.time() + 1:.4f}")
        response = await check(client, "envoy", request, token)
    finally:
        await connection.execute_script("ALTER TABLE usage_logs_gone RENAME TO usage_logs")
    assert (response.status_code, label(response)) == (503, "SERVER_ERROR")


async def test_rules_file_replaces_the_builtin_rules_and_fails_closed(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    rules = tmp_path / "scopes.toml"
    rules.write_text('[[rule]]\nmethods = ["GET"]\nglob = "/v1/*/orders"\nscope = "SPOT_READ"\n')
    async with serving(settings.with_overrides(scope_rules=str(rules)), clock) as (rt, client):
        user = await create_user()
        row, secret = await create_active_key(rt, user.id, scopes=["SPOT_READ"])
        token = await verifier_token()
        ok = partner(rt, row, secret, path="/v1/spot/orders")
        assert (await check(client, "envoy", ok, token)).status_code == 200
        for method, path in (("POST", "/v1/spot/orders"), ("GET", "/api/v4/spot/orders")):
            request = partner(rt, row, secret, method=method, path=path)
            response = await check(client, "envoy", request, token)
            assert (response.status_code, label(response)) == (403, "FORBIDDEN")
        assert [r.required_scope for r in await rows()] == ["SPOT_READ"]


def test_a_bad_rules_file_stops_the_app_naming_the_line(settings: Settings, tmp_path: Path) -> None:
    rules = tmp_path / "scopes.toml"
    rules.write_text('[[rule]]\nprefix = "/v1/"\nmethods = "GET"\nscope = "SPOT_READ"\n')
    with pytest.raises(ScopeRulesError, match=r"scopes.toml, line 3: rule 1: methods"):
        create_app(settings.with_overrides(scope_rules=str(rules)))


async def test_a_body_over_the_limit_is_refused_413_in_gates_format_without_a_row(
    settings: Settings, clock: Clock
) -> None:
    async with serving(settings.with_overrides(max_body_bytes=64), clock) as (rt, client):
        user = await create_user()
        row, secret = await create_active_key(rt, user.id)
        token = await verifier_token()
        fits = partner(rt, row, secret, method="POST", query="", body=b"x" * 64)
        assert (await check(client, "envoy", fits, token)).status_code == 200
        large = partner(rt, row, secret, method="POST", query="", body=b"x" * 65)
        declared = await check(client, "envoy", large, token)
        assert (declared.status_code, label(declared)) == (413, "REQUEST_TOO_LARGE")

        async def chunks() -> Any:
            for _ in range(3):
                yield b"x" * 30

        arguments = check_request("envoy", large, token)
        arguments["content"] = chunks()
        chunked = await client.request(**arguments)
        assert (chunked.status_code, label(chunked)) == (413, "REQUEST_TOO_LARGE")
        assert [r.code for r in await rows()] == ["VALID"]


@pytest.mark.parametrize("status", [200, 401])
async def test_every_answer_carries_a_request_id_and_nosniff(
    client: httpx.AsyncClient, rt: Runtime, status: int
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id)
    token = await verifier_token() if status == 200 else None
    request = partner(rt, row, secret)
    request.headers["X-Request-Id"] = "gateway-id.42"
    kept = await check(client, "nginx", request, token)
    assert kept.status_code == status
    assert kept.headers["x-request-id"] == "gateway-id.42"
    assert kept.headers["x-content-type-options"] == "nosniff"
    request = partner(rt, row, secret, timestamp=f"{rt.clock.time() + 1:.4f}")
    request.headers["X-Request-Id"] = "not an id; <script>"
    replaced = await check(client, "nginx", request, token)
    assert replaced.status_code == status
    assert len(replaced.headers["x-request-id"]) == 16
    assert replaced.headers["x-request-id"] != kept.headers["x-request-id"]
