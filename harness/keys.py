"""Setting up verifiable keys straight in the database, and signing requests like a partner."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gql_keys.models import ApiKey, SubAccount, User
from gql_keys.principals import ServiceRole
from gql_keys.runtime import Runtime
from gql_keys.security.keymaterial import new_public_key_id, new_secret, secret_aad
from gql_keys.security.signing import hmac_sha512_hex, signing_payload
from gql_keys.services import service_tokens

EMPTY_SHA512 = hashlib.sha512(b"").hexdigest()


async def create_user(email: str | None = None) -> User:
    return await User.create(
        email=email or f"u{secrets.token_hex(4)}@example.com", password_hash="unused"
    )


async def create_sub_account(rt: Runtime, master_id: int, label: str = "desk") -> SubAccount:
    return await SubAccount.create(master_id=master_id, label=label, created_at=rt.clock.now())


async def create_active_key(
    rt: Runtime,
    user_id: int,
    *,
    scopes: Sequence[str] = ("SPOT_WRITE", "WALLET_READ"),
    ip_allowlist: Sequence[str] = (),
    algorithm: str = "HMAC_SHA512",
    ed25519_private: Ed25519PrivateKey | None = None,
    expires_at: datetime | None = None,
    rate_limit: tuple[int, int] | None = None,
    sub_account_id: int | None = None,
    canary: bool = False,
) -> tuple[ApiKey, str]:
    """An active key row; returns it with its secret (HMAC) or "" (ED25519)."""
    key = new_public_key_id()
    secret = ""
    sealed: str | None = None
    lookup: str | None = None
    public_key: str | None = None
    if algorithm == "HMAC_SHA512":
        secret = new_secret()
        sealed = rt.secretbox.seal(secret.encode(), aad=secret_aad(key))
        lookup = rt.secret_index.digest(secret)
    else:
        private = ed25519_private or Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        public_key = base64.b64encode(raw).decode()
    now = rt.clock.now()
    row = await ApiKey.create(
        user_id=user_id,
        key=key,
        label="test key",
        algorithm=algorithm,
        scopes=list(scopes),
        ip_allowlist=list(ip_allowlist),
        secret_sealed=sealed,
        public_key=public_key,
        state="active",
        created_at=now,
        activated_at=now,
        expires_at=expires_at,
        rate_limit_requests=rate_limit[0] if rate_limit else None,
        rate_limit_per_seconds=rate_limit[1] if rate_limit else None,
        sub_account_id=sub_account_id,
        secret_lookup=lookup,
        canary=canary,
    )
    return row, secret


def sign(
    secret: str | Ed25519PrivateKey,
    method: str,
    path: str,
    query: str,
    body: bytes,
    timestamp: str,
) -> str:
    payload = signing_payload(method, path, query, hashlib.sha512(body).hexdigest(), timestamp)
    if isinstance(secret, Ed25519PrivateKey):
        return base64.b64encode(secret.sign(payload)).decode()
    return hmac_sha512_hex(secret, payload)


def sign_request(
    secret: str | Ed25519PrivateKey,
    method: str,
    path: str,
    query: str,
    body: bytes,
    timestamp: str,
    *,
    key: str = "",
) -> dict[str, str]:
    """The ``KEY`` / ``Timestamp`` / ``SIGN`` headers a partner sends."""
    headers = {"Timestamp": timestamp, "SIGN": sign(secret, method, path, query, body, timestamp)}
    if key:
        headers["KEY"] = key
    return headers


async def verifier_token(name: str = "gateway") -> str:
    return await service_tokens.create(name, ServiceRole.VERIFIER)


async def monitor_token(name: str = "monitor") -> str:
    return await service_tokens.create(name, ServiceRole.MONITOR)


VERIFY = """
mutation Verify($input: VerifyApiRequestInput!) {
  verifyApiRequest(input: $input) {
    allowed code
    apiKey { id key }
    rateLimit { limit remaining resetAt }
    userErrors { code }
  }
}
"""


def verify_input(
    key: str,
    secret: str | Ed25519PrivateKey,
    *,
    now: float,
    method: str = "GET",
    path: str = "/api/v4/spot/orders",
    query: str = "currency_pair=BTC_USDT&status=open",
    body: bytes = b"",
    client_ip: str = "203.0.113.7",
    required_scope: str = "SPOT_READ",
    timestamp: str | None = None,
) -> dict[str, Any]:
    ts = timestamp if timestamp is not None else str(int(now))
    return {
        "key": key,
        "signature": sign(secret, method, path, query, body, ts),
        "timestamp": ts,
        "method": method,
        "path": path,
        "query": query,
        "bodySha512": hashlib.sha512(body).hexdigest(),
        "clientIp": client_ip,
        "requiredScope": required_scope,
    }
