"""Opaque bearer tokens (sessions, services), stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets

SESSION_TOKEN_PREFIX = "gks_"
SERVICE_TOKEN_PREFIX = "gksvc_"
TOKEN_BYTES = 32


def new_token(prefix: str) -> str:
    """``prefix`` followed by 256 random bits, urlsafe base64 without padding."""
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """Hex SHA-256 of the token: what the database stores and looks up.

    A fast hash is enough because tokens carry 256 random bits.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
