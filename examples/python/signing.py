"""Sign a request the Gate APIv4 way, with an HMAC-SHA512 secret or an Ed25519 key.

    payload = METHOD \\n PATH \\n QUERY \\n hex(SHA-512(body)) \\n TIMESTAMP

Copy this file into a partner client; it needs only ``cryptography`` for Ed25519.
``python signing.py`` checks Gate's published test vector.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def payload(method: str, path: str, query: str, body: bytes, timestamp: str) -> bytes:
    """The exact bytes that are signed."""
    body_hash = hashlib.sha512(body).hexdigest()
    return "\n".join([method.upper(), path, query, body_hash, timestamp]).encode()


def sign_hmac(secret: str, message: bytes) -> str:
    """SIGN for an HMAC_SHA512 key: lowercase hex, keyed with the secret's UTF-8 bytes."""
    return hmac.new(secret.encode(), message, hashlib.sha512).hexdigest()


def sign_ed25519(private_key: Ed25519PrivateKey, message: bytes) -> str:
    """SIGN for an ED25519 key: the base64 signature."""
    return base64.b64encode(private_key.sign(message)).decode()


def new_ed25519_key() -> tuple[Ed25519PrivateKey, str]:
    """A fresh key pair: the private key, and the public key as PEM for createApiKey."""
    private_key = Ed25519PrivateKey.generate()
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_key, public_pem.decode()


def signed_headers(
    key: str,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    *,
    secret: str | None = None,
    private_key: Ed25519PrivateKey | None = None,
) -> dict[str, str]:
    """The KEY, Timestamp and SIGN headers for one request (give a secret or a key)."""
    timestamp = f"{time.time():.3f}"  # decimal seconds: two POSTs in one second differ
    message = payload(method, path, query, body, timestamp)
    if private_key is not None:
        signature = sign_ed25519(private_key, message)
    elif secret is not None:
        signature = sign_hmac(secret, message)
    else:
        raise ValueError("give secret= (HMAC_SHA512) or private_key= (ED25519)")
    return {"KEY": key, "Timestamp": timestamp, "SIGN": signature}


if __name__ == "__main__":
    vector = payload(
        "GET",
        "/api/v4/futures/orders",
        "contract=BTC_USD&status=finished&limit=50",
        b"",
        "1541993715",
    )
    signature = sign_hmac("secret", vector)
    assert signature.startswith("55f84ea195d6fe57ce62464daaa7c3c0"), signature
    print(signature)
