"""A real nginx with ``auth_request`` in front of a tiny API, configured by the snippet
shipped in ``examples/gateways/nginx/``: allowed partner requests reach the API carrying
who called; refused ones never do, and the partner sees gql-keys' status and Gate body.

The njs variant (``examples/gateways/nginx-njs/``, request bodies hashed by njs) runs in
the same nginx on a second port. nginx runs as the test user from a temporary folder on
free ports. Without nginx (or njs) those tests skip, saying so; under ``CI=true`` they fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from harness.authz import PartnerRequest
from harness.windows import clear_of_window_end
from tests.conftest import IN_CI
from tests.scaleout.cluster import Key, Server, cli, free_port, new_key

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples/gateways"
SNIPPET = EXAMPLES / "nginx/gql-keys-authz.conf"
NJS_SNIPPET = EXAMPLES / "nginx-njs/gql-keys-authz.conf"
NJS_SCRIPT = EXAMPLES / "nginx-njs/gql-keys.js"
NJS_MODULE = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_binary() -> str:
    if Path(NGINX).exists():
        return NGINX
    if IN_CI:
        pytest.fail("nginx is required under CI=true (.ci/run installs it with apt-get)")
    pytest.skip("nginx is not installed (apt-get install nginx): the nginx gateway test skipped")


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Upstream:
    """The partner API: answers 200 and remembers every request that reached it."""

    port: int = field(default_factory=free_port)
    seen: list[Seen] = field(default_factory=list)

    def serve(self) -> ThreadingHTTPServer:
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen.append(Seen(self.command, self.path, headers, received))
                body = b'{"ok":true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_DELETE = do_POST = answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def nginx_conf(
    folder: Path, port: int, njs_port: int | None, gql_keys_port: int, api_port: int, token: str
) -> str:
    njs_http, njs_server = "", ""
    if njs_port is not None:
        njs_http = f"""
    js_import gql_keys from {NJS_SCRIPT};
    js_var $gql_keys_key_id;
    js_var $gql_keys_account_id;"""
        njs_server = f"""
    server {{
        listen 127.0.0.1:{njs_port};
        set $gql_keys_verifier_token "{token}";
        include {NJS_SNIPPET};
    }}"""
    load = f"load_module {NJS_MODULE};" if njs_port is not None else ""
    return f"""
{load}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream gql_keys {{ server 127.0.0.1:{gql_keys_port}; keepalive 8; }}
    upstream partner_api {{ server 127.0.0.1:{api_port}; }}{njs_http}
    server {{
        listen 127.0.0.1:{port};
        set $gql_keys_verifier_token "{token}";
        include {SNIPPET};
    }}{njs_server}
}}
"""


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text() if log.exists() else ''}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("nginx did not listen")


@dataclass
class Stack:
    url: str
    upstream: Upstream
    gql_keys: Server
    njs_url: str | None  # None: njs (libnginx-mod-http-js) is not installed


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    binary = nginx_binary()
    folder = tmp_path_factory.mktemp("nginx")
    env = {
        "PATH": "/usr/bin:/bin",
        "GQL_KEYS_DATA_DIR": str(folder / "data"),
        "GQL_KEYS_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "GQL_KEYS_ARGON2_TIME_COST": "1",
        "GQL_KEYS_ARGON2_MEMORY_COST": "1024",
        "GQL_KEYS_LOG_LEVEL": "WARNING",
    }
    server = Server(env, folder / "gql-keys.log")
    server.start()
    upstream = Upstream()
    api = upstream.serve()
    nginx: subprocess.Popen[bytes] | None = None
    try:
        token = cli(env, "service-token", "create", "--name", "nginx", "--role", "verifier")
        port = free_port()
        njs_port = free_port() if NJS_MODULE.exists() else None
        (folder / "nginx.conf").write_text(
            nginx_conf(folder, port, njs_port, server.port, upstream.port, token)
        )
        nginx = subprocess.Popen(
            [
                binary,
                "-p",
                str(folder),
                "-e",
                str(folder / "error.log"),
                "-c",
                str(folder / "nginx.conf"),
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(port, nginx, folder / "error.log")
        if njs_port is not None:
            wait_for_port(njs_port, nginx, folder / "error.log")
        njs_url = f"http://127.0.0.1:{njs_port}" if njs_port is not None else None
        yield Stack(f"http://127.0.0.1:{port}", upstream, server, njs_url)
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        api.shutdown()
        api.server_close()
        server.stop()


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
