"""A path the scope check reads one way and the API serves another: ``..;`` (Tomcat,
Jetty and Spring drop ``;…`` from a segment), double encoding, overlong UTF-8, IIS's
``%u``, full-width dots, NUL, tabs and other spellings an upstream normalises into
``..``. ``/authz`` refuses every one of them with 400 ``INVALID_PATH`` before any
decision, in every dialect and when the gateway names the scope itself;
``verifyApiRequest`` grants no key such a path (``SCOPE_NOT_GRANTED``, with a userError).

The end-to-end table runs the nginx snippet shipped in ``examples/gateways/nginx`` in
front of a stand-in API that normalises like a servlet container (and then some), and
asserts that nothing outside the key's scopes ever reaches it.
"""

from __future__ import annotations

import json
import re
import socket
import time
import unicodedata
import urllib.parse
from collections.abc import Iterator

import httpx
import pytest

from gql_keys.models import UsageLog
from gql_keys.runtime import Runtime
from gql_keys.scope_rules import BUILTIN
from gql_keys.scopes import implied
from harness.authz import DIALECTS, PartnerRequest, check
from harness.graphql import gql
from harness.keys import create_active_key, create_user, sign, verifier_token, verify_input
from tests.gateways.nginx_stack import Stack, Upstream, nginx_stack
from tests.scaleout.cluster import Key, new_key

# Each is a path a SPOT_READ key may sign, that a normalising upstream serves as a path
# outside the spot area (mostly /api/v4/withdrawals). Raw bytes, as sent on the wire.
SPELLINGS: list[bytes] = [
    b"/api/v4/spot/..;/withdrawals",
    b"/api/v4/spot/..;x=1/withdrawals",
    b"/api/v4/spot/%2e%2e;/withdrawals",
    b"/api/v4/spot/..%3b/withdrawals",
    b"/api/v4/spot/orders/..;/..;/wallet/transfers",
    b"/api/v4/spot/%252e%252e/withdrawals",
    b"/api/v4/spot/%252e%252e%252fwithdrawals",
    b"/api/v4/spot/%c0%ae%c0%ae/withdrawals",
    b"/api/v4/spot/%c0%ae%c0%ae%c0%afwithdrawals",
    b"/api/v4/spot/%u002e%u002e/withdrawals",
    b"/api/v4/spot/%uff0e%uff0e/withdrawals",
    "/api/v4/spot/\uff0e\uff0e/withdrawals".encode(),
    b"/api/v4/spot/%ef%bc%8e%ef%bc%8e/withdrawals",
    b"/api/v4/spot/..%00/withdrawals",
    b"/api/v4/spot/..%09/withdrawals",
    b"/api/v4/spot/%09../withdrawals",
    b"/api/v4/spot/..\t/withdrawals",
    b"/api/v4/spot/..%20/withdrawals",
    b"/api/v4/spot/..%0d%0a/withdrawals",
    b"/api/v4/spot/..\\withdrawals",
    b"/api/v4/spot/..%5cwithdrawals",
    b"/api/v4/spot/.%2e/withdrawals",
    b"/api/v4/spot/..%2fwithdrawals",
    b"/api/v4/spot/../withdrawals",
    b"/api/v4/spot/./../withdrawals",
    b"/api/v4/spot//..;/withdrawals",
]


def servlet_normalise(target: str) -> str:
    """The path a lenient upstream serves for ``target`` (as BaseHTTPRequestHandler gives
    it, latin-1): path parameters dropped (``..;`` is ``..``), decoded until stable
    (``%XX``, ``%uXXXX``, overlong UTF-8), NFKC (full-width dots), backslashes as slashes,
    NUL and whitespace trimmed from segments, then dot segments resolved."""
    path = target.encode("latin-1").split(b"?", 1)[0].decode("utf-8", "replace")
    path = "/".join(segment.split(";", 1)[0] for segment in path.split("/"))
    for _ in range(5):
        before = path
        path = re.sub(r"%u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), path)
        raw = urllib.parse.unquote_to_bytes(path)
        raw = raw.replace(b"\xc0\xae", b".").replace(b"\xc0\xaf", b"/")
        path = raw.decode("utf-8", "replace")
        if path == before:
            break
    path = unicodedata.normalize("NFKC", path).replace("\\", "/")
    served: list[str] = []
    for segment in path.split("/"):
        segment = segment.split(";", 1)[0].strip(" \t\r\n\x00\x0b\x0c")
        if segment in ("", "."):
            continue
        if segment == "..":
            if served:
                served.pop()
            continue
        served.append(segment)
    return "/" + "/".join(served) + ("/" if path.endswith("/") and served else "")


def test_the_stand_in_upstream_normalises_every_spelling_out_of_the_spot_area() -> None:
    for spelling in SPELLINGS:
        served = servlet_normalise(spelling.decode("latin-1"))
        assert not served.startswith("/api/v4/spot/"), (spelling, served)
    assert servlet_normalise("/api/v4/spot/tickers?x=1") == "/api/v4/spot/tickers"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    upstream = Upstream(normalise=servlet_normalise)
    with nginx_stack(tmp_path_factory.mktemp("nginx"), upstream, njs=False) as running:
        yield running


def send_raw(port: int, method: str, target: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One request with exactly these bytes as its target (no client re-encoding)."""
    head = [f"{method} ".encode() + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    head += [f"{name}: {value}".encode() for name, value in headers.items()]
    head.append(b"Connection: close")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"\r\n".join(head) + b"\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split(b" ")[1]), rest.partition(b"\r\n\r\n")[2]


def signed_headers(key: Key, method: str, target: bytes) -> dict[str, str]:
    path, _, query = target.decode("utf-8", "replace").partition("?")
    timestamp = f"{time.time():.6f}"
    signature = sign(key.secret, method, path, query, b"", timestamp)
    return {"KEY": key.key, "Timestamp": timestamp, "SIGN": signature}


def outside_scopes(stack: Stack, scopes: list[str]) -> list[tuple[str, str, str]]:
    """Requests the API served that the key's scopes do not cover."""
    held = implied(scopes)
    return [
        (seen.method, seen.path, seen.served)
        for seen in stack.upstream.seen
        if BUILTIN.required_scope(seen.method, seen.served) not in held
    ]


async def test_no_spelling_of_dot_segments_takes_a_spot_key_past_nginx_elsewhere(
    stack: Stack,
) -> None:
    async with stack.gql_keys.client() as gql_keys:
        key = await new_key(gql_keys, scopes=["SPOT_READ"])
    answers: dict[bytes, tuple[int, str]] = {}
    for spelling in SPELLINGS:
        status, body = send_raw(stack.port, "GET", spelling, signed_headers(key, "GET", spelling))
        label = json.loads(body).get("label", "") if body.startswith(b"{") else "(nginx)"
        answers[spelling] = (status, label)
    # The stand-in would have served all of these outside the spot area: none reached it.
    assert outside_scopes(stack, ["SPOT_READ"]) == []
    assert stack.upstream.seen == []
    # Refused as a bad request: by gql-keys (INVALID_PATH); by nginx itself before it
    # asked (raw control characters, malformed escapes, a path climbing above the root);
    # or, for raw non-ASCII bytes, by gql-keys' HTTP server, which cannot parse such a
    # check request (the snippet answers INVALID_REQUEST for a 400 without a label).
    expected = {"INVALID_PATH", "(nginx)"}
    wrong = {
        s: a
        for s, a in answers.items()
        if a[0] != 400 or a[1] not in (expected if s.isascii() else {"INVALID_REQUEST"})
    }
    assert wrong == {}
    # Plain paths, escapes of ordinary characters included, still pass.
    for plain in (b"/api/v4/spot/tickers", b"/api/v4/spot/orders/t-1%3A2?currency_pair=BTC_USDT"):
        status, body = send_raw(stack.port, "GET", plain, signed_headers(key, "GET", plain))
        assert status == 200, body
    assert [seen.served for seen in stack.upstream.seen] == [
        "/api/v4/spot/tickers",
        "/api/v4/spot/orders/t-1:2",
    ]


# The same refusals at /authz itself, each dialect (Envoy's raw path included).
DIALECT_SPELLINGS = [
    "/api/v4/spot/..;/withdrawals",
    "/api/v4/spot/%252e%252e/withdrawals",
    "/api/v4/spot/%c0%ae%c0%ae/withdrawals",
    "/api/v4/spot/%u002e%u002e/withdrawals",
    "/api/v4/spot/%ef%bc%8e%ef%bc%8e/withdrawals",
    "/api/v4/spot/..%00/withdrawals",
    "/api/v4/spot/%09../withdrawals",
    "/api/v4/spot/..%5cwithdrawals",
]


async def rows() -> int:
    return await UsageLog.all().count()


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_every_dialect_refuses_a_normalisable_path_as_invalid_path(
    client: httpx.AsyncClient, rt: Runtime, dialect: str
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, scopes=["SPOT_READ"])
    token = await verifier_token()
    for path in DIALECT_SPELLINGS:
        partner = PartnerRequest(
            key=row.key, secret=secret, timestamp=f"{rt.clock.time():.4f}", path=path, query=""
        )
        response = await check(client, dialect, partner, token)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["label"] == "INVALID_PATH"
        assert response.headers["x-error-label"] == "INVALID_PATH"
        assert "x-verification-code" not in response.headers
    assert await rows() == 0


@pytest.mark.parametrize(
    "path",
    ["/api/v4/spot/../withdrawals", "/api/v4/spot/..;/withdrawals", "/api/v4/spot/%2e%2e/x"],
)
async def test_naming_the_scope_does_not_skip_the_path_grammar(
    client: httpx.AsyncClient, rt: Runtime, path: str
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, scopes=["SPOT_READ"])
    partner = PartnerRequest(
        key=row.key, secret=secret, timestamp=f"{rt.clock.time():.4f}", path=path, query=""
    )
    partner.headers["X-Required-Scope"] = "SPOT_READ"
    response = await check(client, "nginx", partner, await verifier_token())
    assert (response.status_code, response.json()["label"]) == (400, "INVALID_PATH")
    assert await rows() == 0


VERIFY_WITH_ERRORS = """
mutation Verify($input: VerifyApiRequestInput!) {
  verifyApiRequest(input: $input) { allowed code userErrors { field code } }
}
"""


async def test_verify_api_request_grants_no_key_a_normalisable_path(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, scopes=["SPOT_READ"])
    token = await verifier_token()
    path = "/api/v4/spot/..;/withdrawals"
    data = verify_input(row.key, secret, now=rt.clock.time(), path=path, query="")
    body = await gql(client, VERIFY_WITH_ERRORS, {"input": data}, token=token)
    assert body["data"]["verifyApiRequest"] == {
        "allowed": False,
        "code": "SCOPE_NOT_GRANTED",
        "userErrors": [{"field": ["input", "path"], "code": "INVALID_INPUT"}],
    }
    # A denial like any other: the owner sees the attempt in the key's usage log.
    (logged,) = await UsageLog.all()
    assert (logged.code, logged.path) == ("SCOPE_NOT_GRANTED", path)
    data = verify_input(row.key, secret, now=rt.clock.time(), path="/api/v4/spot/orders")
    body = await gql(client, VERIFY_WITH_ERRORS, {"input": data}, token=token)
    assert body["data"]["verifyApiRequest"]["code"] == "VALID"
