"""A real nginx with ``auth_request`` in front of a tiny API, configured by the snippet
shipped in ``examples/gateways/nginx/``: allowed partner requests reach the API carrying
who called; refused ones never do, and the partner sees gql-keys' status and Gate body.

The njs variant (``examples/gateways/nginx-njs/``, request bodies hashed by njs) runs in
the same nginx on a second port (see :mod:`tests.gateways.nginx_stack`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from harness.authz import PartnerRequest
from harness.windows import clear_of_window_end
from tests.conftest import IN_CI
from tests.gateways.nginx_stack import Seen, Stack, Upstream, nginx_stack
from tests.scaleout.cluster import Key, new_key

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with nginx_stack(tmp_path_factory.mktemp("nginx"), Upstream()) as running:
        yield running


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as c:
        yield c


@pytest.fixture
async def key(stack: Stack) -> Key:
    async with stack.gql_keys.client() as client:
        return await new_key(client)


def signed(key: Key, method: str, path: str, query: str = "", **changes: str) -> dict[str, str]:
    partner = PartnerRequest(
        key=key.key,
        secret=key.secret,
        timestamp=f"{time.time():.4f}",
        method=method,
        path=path,
        query=query,
    )
    return {**partner.signed_headers(), **changes}


def reached(stack: Stack, path: str) -> list[Seen]:
    return [seen for seen in stack.upstream.seen if seen.path.split("?")[0] == path]


def gate_body(response: httpx.Response) -> str:
    body = json.loads(response.text)
    assert set(body) == {"label", "message"}
    label: str = body["label"]
    return label


async def test_signed_get_and_delete_reach_the_api_with_the_key_id(
    stack: Stack, client: httpx.AsyncClient, key: Key
) -> None:
    get = await client.get(
        "/api/v4/spot/orders?currency_pair=BTC_USDT",
        headers=signed(
            key,
            "GET",
            "/api/v4/spot/orders",
            "currency_pair=BTC_USDT",
            **{"X-Api-Key-Id": "forged"},
        ),
    )
    assert get.status_code == 200, get.text
    assert get.json() == {"ok": True}
    assert get.headers["x-ratelimit-limit"] == "1000"
    delete = await client.delete(
        "/api/v4/spot/orders/42", headers=signed(key, "DELETE", "/api/v4/spot/orders/42")
    )
    assert delete.status_code == 200, delete.text
    (seen_get,) = reached(stack, "/api/v4/spot/orders")
    (seen_delete,) = reached(stack, "/api/v4/spot/orders/42")
    assert seen_get.path == "/api/v4/spot/orders?currency_pair=BTC_USDT"
    assert seen_delete.method == "DELETE"
    for seen in (seen_get, seen_delete):
        assert seen.headers["x-api-key-id"] == key.id
        assert seen.headers["x-account-id"]
        assert "x-verifier-token" not in seen.headers


@pytest.mark.parametrize(
    ("method", "path", "change", "status", "label", "code"),
    [
        (
            "GET",
            "/api/v4/spot/tickers",
            {"SIGN": "ab" * 64},
            401,
            "INVALID_SIGNATURE",
            "INVALID_SIGNATURE",
        ),
        (
            "GET",
            "/api/v4/spot/tickers",
            {"KEY": "gqk_" + "0" * 32},
            401,
            "INVALID_KEY",
            "KEY_NOT_FOUND",
        ),
        (
            "GET",
            "/api/v4/spot/tickers",
            {"Timestamp": "1541993715"},
            401,
            "REQUEST_EXPIRED",
            "TIMESTAMP_OUT_OF_WINDOW",
        ),
        ("DELETE", "/api/v4/futures/usdt/orders/1", {}, 403, "FORBIDDEN", "SCOPE_NOT_GRANTED"),
        ("GET", "/api/v4/unknown", {}, 403, "FORBIDDEN", ""),
        (
            "GET",
            "/api/v4/spot/tickers",
            {"SIGN": ""},
            401,
            "INVALID_SIGNATURE",
            "INVALID_SIGNATURE",
        ),
    ],
)
async def test_refused_requests_never_reach_the_api(
    stack: Stack,
    client: httpx.AsyncClient,
    key: Key,
    method: str,
    path: str,
    change: dict[str, str],
    status: int,
    label: str,
    code: str,
) -> None:
    before = len(stack.upstream.seen)
    headers = signed(key, method, path)
    headers.update(change)
    response = await client.request(method, path, headers=headers)
    assert response.status_code == status, response.text
    assert gate_body(response) == label
    assert response.headers.get("x-verification-code", "") == code
    assert len(stack.upstream.seen) == before


async def test_a_partner_cannot_choose_its_scope_or_address(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    async with stack.gql_keys.client() as gql_keys:
        reader = await new_key(gql_keys, scopes=["SPOT_READ"])
        pinned = await new_key(gql_keys, scopes=["SPOT_READ"], ipAllowlist=["203.0.113.7"])
    before = len(stack.upstream.seen)
    path = "/api/v4/withdrawals"
    forged = signed(reader, "POST", path, **{"X-Required-Scope": "SPOT_READ"})
    response = await client.post(path, headers=forged)
    assert (response.status_code, gate_body(response)) == (403, "FORBIDDEN")
    assert response.headers["x-verification-code"] == "SCOPE_NOT_GRANTED"
    path = "/api/v4/spot/tickers"
    for forged_address in ({"X-Real-IP": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.7"}):
        response = await client.get(path, headers=signed(pinned, "GET", path, **forged_address))
        assert (response.status_code, gate_body(response)) == (403, "IP_FORBIDDEN")
    assert len(stack.upstream.seen) == before


async def test_a_replayed_delete_is_refused_after_the_first_passes(
    stack: Stack, client: httpx.AsyncClient, key: Key
) -> None:
    headers = signed(key, "DELETE", "/api/v4/spot/orders/7")
    assert (await client.delete("/api/v4/spot/orders/7", headers=headers)).status_code == 200
    again = await client.delete("/api/v4/spot/orders/7", headers=headers)
    assert again.status_code == 401
    assert gate_body(again) == "REQUEST_REPLAYED"
    assert len(reached(stack, "/api/v4/spot/orders/7")) == 1


async def test_rate_limited_is_429_with_retry_after_not_nginx_500(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    async with stack.gql_keys.client() as gql_keys:
        key = await new_key(gql_keys, rateLimit={"requests": 1, "perSeconds": 60})
    path = "/api/v4/spot/my_trades"
    await clear_of_window_end(60)
    assert (await client.get(path, headers=signed(key, "GET", path))).status_code == 200
    limited = await client.get(path, headers=signed(key, "GET", path))
    assert limited.status_code == 429, limited.text
    assert gate_body(limited) == "TOO_MANY_REQUESTS"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert len(reached(stack, path)) == 1


def njs_url(stack: Stack) -> str:
    if stack.njs_url is not None:
        return stack.njs_url
    if IN_CI:
        pytest.fail("libnginx-mod-http-js is required under CI=true")
    pytest.skip("njs (libnginx-mod-http-js) is not installed: the body-hashing gateway skipped")


async def test_njs_gateway_passes_a_signed_post_with_its_body(stack: Stack, key: Key) -> None:
    path, body = "/api/v4/spot/orders", b'{"currency_pair":"BTC_USDT","amount":"1"}'
    partner = PartnerRequest(
        key=key.key,
        secret=key.secret,
        timestamp=f"{time.time():.4f}",
        method="POST",
        path=path,
        query="",
        body=body,
    )
    async with httpx.AsyncClient(base_url=njs_url(stack), timeout=10) as client:
        response = await client.post(path, content=body, headers=partner.signed_headers())
        assert response.status_code == 200, response.text
        (seen,) = [s for s in reached(stack, path) if s.method == "POST"]
        assert seen.body == body
        assert seen.headers["x-api-key-id"] == key.id
        assert "x-verifier-token" not in seen.headers
        get = await client.get(
            "/api/v4/spot/accounts", headers=signed(key, "GET", "/api/v4/spot/accounts")
        )
        assert get.status_code == 200, get.text


async def test_njs_gateway_refuses_a_changed_body_with_gates_body(stack: Stack, key: Key) -> None:
    before = len(stack.upstream.seen)
    path, body = "/api/v4/spot/orders", b'{"amount":"1"}'
    partner = PartnerRequest(
        key=key.key,
        secret=key.secret,
        timestamp=f"{time.time():.4f}",
        method="POST",
        path=path,
        query="",
        body=body,
    )
    headers = partner.signed_headers()
    async with httpx.AsyncClient(base_url=njs_url(stack), timeout=10) as client:
        # The signed body's hash, claimed for another body: the gateway hashes what it got.
        forged = {**headers, "X-Body-Sha512": hashlib.sha512(body).hexdigest()}
        response = await client.post(path, content=b'{"amount":"9"}', headers=forged)
        assert response.status_code == 401, response.text
        assert response.json() == {"label": "INVALID_SIGNATURE", "message": "Signature mismatch."}
        assert response.headers["x-verification-code"] == "INVALID_SIGNATURE"
        async with stack.gql_keys.client() as gql_keys:
            limited = await new_key(gql_keys, rateLimit={"requests": 1, "perSeconds": 60})
        path = "/api/v4/spot/tickers"
        await clear_of_window_end(60)
        first = await client.get(path, headers=signed(limited, "GET", path))
        assert first.status_code == 200, first.text
        response = await client.get(path, headers=signed(limited, "GET", path))
        assert response.status_code == 429
        assert response.json()["label"] == "TOO_MANY_REQUESTS"
        assert 1 <= int(response.headers["retry-after"]) <= 60
    assert len(stack.upstream.seen) == before + 1  # the limited key's first GET only


async def test_gql_keys_unreachable_is_503_never_a_pass(
    stack: Stack, client: httpx.AsyncClient, key: Key
) -> None:
    before = len(stack.upstream.seen)
    stack.gql_keys.stop()
    response = await client.get(
        "/api/v4/spot/tickers", headers=signed(key, "GET", "/api/v4/spot/tickers")
    )
    assert response.status_code == 503
    assert gate_body(response) == "SERVER_ERROR"
    assert len(stack.upstream.seen) == before
