"""Signatures on GitHub's secret-scanning alerts: the public keys, fetched and cached.

GitHub signs each alert's raw body with ECDSA P-256 / SHA-256 and names the key in
``Github-Public-Key-Identifier``; its public keys are a JSON document
``{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}`` at a URL
(``GQL_KEYS_SECRET_SCANNING_KEYS_URL``). :class:`AlertKeyring` keeps that document for an
hour, fetches it again at most once a minute when an alert names a key it does not hold
(GitHub has rotated), and raises :class:`AlertKeysUnavailable` when it cannot hold a
current document: an alert is never accepted on keys it could not check.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

# How long a fetched document is trusted, and how often an unknown key identifier (or a
# failed fetch) may cause another fetch.
DOCUMENT_LIFETIME_SECONDS = 3600.0
REFETCH_INTERVAL_SECONDS = 60.0
FETCH_TIMEOUT_SECONDS = 10.0
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_SIGNATURE_LENGTH = 512  # base64 of a DER P-256 signature is about 96 characters

Fetch = Callable[[str], Awaitable[bytes]]


class AlertKeysUnavailable(Exception):
    """The public keys could not be fetched or read; the message says why (no secrets)."""


def parse_key_document(data: bytes) -> dict[str, ec.EllipticCurvePublicKey]:
    """``key_identifier -> P-256 public key`` of every usable entry of the document."""
    try:
        document = json.loads(data)
    except ValueError:
        raise AlertKeysUnavailable("the key document is not JSON") from None
    entries = document.get("public_keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise AlertKeysUnavailable("the key document has no public_keys list")
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        identifier, pem = entry.get("key_identifier"), entry.get("key")
        if not isinstance(identifier, str) or not isinstance(pem, str):
            continue
        try:
            key = load_pem_public_key(pem.encode("utf-8"))
        except (ValueError, TypeError):
            continue
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            keys[identifier] = key
    if not keys:
        raise AlertKeysUnavailable("the key document holds no P-256 public key")
    return keys


def signature_valid(key: ec.EllipticCurvePublicKey, body: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64 of a DER ECDSA signature) signs ``body`` under ``key``."""
    if len(signature) > MAX_SIGNATURE_LENGTH:
        return False
    try:
        der = base64.b64decode(signature.strip(), validate=True)
        key.verify(der, body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


async def fetch_document(url: str) -> bytes:
    """GET the key document (at most :data:`MAX_DOCUMENT_BYTES`, 200 only)."""
    try:
        async with (
            httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False) as client,
            client.stream("GET", url, headers={"accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise AlertKeysUnavailable(f"the key URL answered {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_DOCUMENT_BYTES:
                    raise AlertKeysUnavailable("the key document is too large")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise AlertKeysUnavailable(f"the key URL cannot be read ({type(exc).__name__})") from None


class AlertKeyring:
    """The public keys alerts are checked with, fetched when needed (one fetch at a time)."""

    def __init__(self, url: str, time: Callable[[], float], fetch: Fetch = fetch_document) -> None:
        self.url = url
        self._fetch = fetch
        self._time = time
        self._keys: Mapping[str, ec.EllipticCurvePublicKey] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch, successful or not
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def key(self, identifier: str) -> ec.EllipticCurvePublicKey | None:
        """The key ``identifier`` names; None when the current document has no such key.

        Raises :class:`AlertKeysUnavailable` when no document younger than an hour can
        be had."""
        async with self._lock:
            now = self._time()
            if self._fetched_at is None or now - self._fetched_at >= DOCUMENT_LIFETIME_SECONDS:
                await self._refresh(now)
            key = self._keys.get(identifier)
            if key is None and self._may_fetch(now):
                await self._refresh(now)
                key = self._keys.get(identifier)
            return key

    def _may_fetch(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= REFETCH_INTERVAL_SECONDS

    async def _refresh(self, now: float) -> None:
        if not self._may_fetch(now):
            raise AlertKeysUnavailable("the key URL failed less than a minute ago")
        self._attempted_at = now
        self.fetches += 1
        self._keys = parse_key_document(await self._fetch(self.url))
        self._fetched_at = now
