"""A real nginx configured by the snippets shipped in ``examples/gateways/``, in front of
a small partner API, with a real ``gql-keys serve`` answering its checks.

nginx runs as the test user from a temporary folder on free ports. Without nginx (or
njs) the tests that need it skip, saying so; under ``CI=true`` they fail.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.scaleout.cluster import Server, cli, free_port

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
    path: str  # the request target as received (query included)
    headers: dict[str, str]
    body: bytes = b""
    served: str = ""  # the path the API served, after its own normalisation


@dataclass
class Upstream:
    """The partner API: answers 200 and remembers every request that reached it, with
    the path it would have served (``normalise`` of the path it received)."""

    normalise: Callable[[str], str] = lambda path: path.split("?")[0]
    port: int = field(default_factory=free_port)
    seen: list[Seen] = field(default_factory=list)

    def serve(self) -> ThreadingHTTPServer:
        seen, normalise = self.seen, self.normalise

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                served = normalise(self.path)
                seen.append(Seen(self.command, self.path, headers, received, served))
                body = b'{"ok":true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_DELETE = do_POST = do_HEAD = do_PUT = answer

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
    port: int
    upstream: Upstream
    gql_keys: Server
    njs_url: str | None  # None: njs (libnginx-mod-http-js) is not installed


@contextmanager
def nginx_stack(folder: Path, upstream: Upstream, *, njs: bool = True) -> Iterator[Stack]:
    """gql-keys, ``upstream`` and nginx (plus the njs variant when asked and installed)."""
    binary = nginx_binary()
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
    api = upstream.serve()
    nginx: subprocess.Popen[bytes] | None = None
    try:
        token = cli(env, "service-token", "create", "--name", "nginx", "--role", "verifier")
        port = free_port()
        njs_port = free_port() if njs and NJS_MODULE.exists() else None
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
        yield Stack(f"http://127.0.0.1:{port}", port, upstream, server, njs_url)
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        api.shutdown()
        api.server_close()
        server.stop()
