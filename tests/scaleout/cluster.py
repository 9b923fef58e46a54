"""Real ``gql-keys serve`` processes sharing one PostgreSQL database and one Redis.

Each :class:`Cluster` gets a fresh database (migrated once with ``gql-keys migrate``) and
its own Redis key prefix, so parallel runs never see each other's state.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx

from gql_keys.clock import Clock
from gql_keys.runtime import Runtime
from gql_keys.security.signing import hmac_sha512_hex, signing_payload
from harness.accounts import TestUser, signed_up_user, totp_code
from harness.databases import create_postgres_database, drop_postgres_database
from harness.graphql import gql

BIN = Path(sys.executable).parent / "gql-keys"
# How long a worker answers from a cached key record (the default of
# ``key_cache_ttl_seconds``, which the cluster does not set; the cache caps it at 5 s too).
KEY_CACHE_TTL_SECONDS = 5.0
EMPTY_SHA512 = hashlib.sha512(b"").hexdigest()

CREATE = """
mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { challenge { id } userErrors { code message } }
}
"""
CONFIRM = """
mutation ($input: VerifyTwoFactorInput!) {
  verifyTwoFactor(input: $input) { apiKey { id key } secret userErrors { code message } }
}
"""
DELETE = """
mutation ($input: DeleteApiKeyInput!) {
  deleteApiKey(input: $input) { deletedApiKeyId userErrors { code message } }
}
"""
VERIFY = """
mutation ($input: VerifyApiRequestInput!) {
  verifyApiRequest(input: $input) {
    allowed code rateLimit { limit remaining } userErrors { code message }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """One ``gql-keys serve`` process (one worker) on its own port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(BIN), "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def stop(self, timeout: float = 40) -> int | None:
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def client(self, timeout: float = 10) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=timeout)


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@dataclass
class Cluster:
    env: dict[str, str]
    database_url: str
    servers: list[Server] = field(default_factory=list)
    verifier_token: str = ""
    monitor_token: str = ""

    def add_server(self, tmp: Path, **env: str) -> Server:
        server = Server({**self.env, **env}, tmp / f"server-{len(self.servers)}.log")
        server.start()
        self.servers.append(server)
        return server


def cluster_env(database_url: str, redis_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
    env.update(
        GQL_KEYS_DATABASE_URL=database_url,
        GQL_KEYS_REDIS_URL=redis_url,
        GQL_KEYS_REDIS_PREFIX=f"gql-keys-test-{secrets.token_hex(4)}",
        GQL_KEYS_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        GQL_KEYS_DATA_DIR=str(data_dir),
        GQL_KEYS_ARGON2_TIME_COST="1",
        GQL_KEYS_ARGON2_MEMORY_COST="1024",
        GQL_KEYS_LOG_LEVEL="WARNING",
        GQL_KEYS_LOGIN_MAX_FAILURES_PER_ADDRESS="100000",
    )
    return env


def start_cluster(postgres_url: str, redis_url: str, tmp: Path, workers: int = 2) -> Cluster:
    name = f"gql_keys_scaleout_{secrets.token_hex(4)}"
    database_url = asyncio.run(create_postgres_database(postgres_url, name))
    cluster = Cluster(cluster_env(database_url, redis_url, tmp / "data"), database_url)
    try:
        cli(cluster.env, "migrate")  # once, before any worker starts
        cluster.verifier_token = cli(
            cluster.env, "service-token", "create", "--name", "gateway", "--role", "verifier"
        )
        cluster.monitor_token = cli(
            cluster.env, "service-token", "create", "--name", "monitor", "--role", "monitor"
        )
        for _ in range(workers):
            cluster.add_server(tmp)
    except BaseException:
        stop_cluster(cluster, postgres_url)
        raise
    return cluster


def stop_cluster(cluster: Cluster, postgres_url: str) -> None:
    for server in cluster.servers:
        server.stop()
    asyncio.run(drop_postgres_database(postgres_url, cluster.database_url))


def real_clock() -> Runtime:
    """The TOTP helpers read ``rt.clock``; a server process runs on the real clock."""
    return cast(Runtime, SimpleNamespace(clock=Clock()))


@dataclass
class Key:
    id: str
    key: str
    secret: str
    user: TestUser


async def new_key(client: httpx.AsyncClient, **overrides: Any) -> Key:
    """A fresh user with 2FA and one confirmed HMAC key, all through GraphQL."""
    rt = real_clock()
    user = await signed_up_user(client, rt)
    assert user.seed is not None
    data: dict[str, Any] = {"label": "scale-out", "scopes": ["SPOT_WRITE"], **overrides}
    body = await gql(client, CREATE, {"input": data}, token=user.token)
    created = body["data"]["createApiKey"]
    assert created["userErrors"] == [], created
    code = totp_code(user.seed, rt)
    body = await gql(
        client,
        CONFIRM,
        {"input": {"challengeId": created["challenge"]["id"], "code": code}},
        token=user.token,
    )
    confirmed = body["data"]["verifyTwoFactor"]
    assert confirmed["userErrors"] == [], confirmed
    return Key(confirmed["apiKey"]["id"], confirmed["apiKey"]["key"], confirmed["secret"], user)


def signed_input(
    key: Key, method: str = "GET", path: str = "/api/v4/spot/orders", timestamp: str = ""
) -> dict[str, Any]:
    """What a gateway forwards for one correctly signed partner request."""
    timestamp = timestamp or f"{time.time():.6f}"
    payload = signing_payload(method, path, "", EMPTY_SHA512, timestamp)
    return {
        "key": key.key,
        "signature": hmac_sha512_hex(key.secret, payload),
        "timestamp": timestamp,
        "method": method,
        "path": path,
        "query": "",
        "bodySha512": EMPTY_SHA512,
        "clientIp": "203.0.113.7",
        "requiredScope": "SPOT_READ",
    }


async def verify(client: httpx.AsyncClient, token: str, request: dict[str, Any]) -> dict[str, Any]:
    """The ``verifyApiRequest`` answer, or the whole body when it carries errors."""
    response = await client.post(
        "/graphql",
        json={"query": VERIFY, "variables": {"input": request}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    if body.get("errors") or response.status_code != 200:
        return {"status": response.status_code, **body}
    answer: dict[str, Any] = body["data"]["verifyApiRequest"]
    return answer


async def delete_key(client: httpx.AsyncClient, key: Key) -> None:
    body = await gql(client, DELETE, {"input": {"id": key.id}}, token=key.user.token)
    assert body["data"]["deleteApiKey"]["userErrors"] == [], body


async def holds_before_cache_expiry(check: Callable[[], Awaitable[bool]], cached_at: float) -> None:
    """Poll ``check`` until it holds; fail unless it held before a key record cached on the
    checked worker at ``cached_at`` (``time.monotonic()`` taken before that worker read the
    key) could expire by itself. A change seen that early was carried to the worker by the
    Redis invalidation. Polling, not one check, because a mutation answers after its PUBLISH,
    not after the other worker has handled it."""
    expires = cached_at + KEY_CACHE_TTL_SECONDS
    while not await check():
        assert time.monotonic() < expires, "the change reached the other worker only by expiry"
        await asyncio.sleep(0.02)
    assert time.monotonic() < expires, "the change reached the other worker only by expiry"
