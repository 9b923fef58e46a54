"""Public key identifiers and HMAC secrets of API keys.

A secret is ``gqks_`` + 43 base62 characters (256 random bits) + a 6-character
base62 CRC32 of everything before it, in the style of GitHub tokens: a mistyped or
truncated secret is detected offline, and secret scanners can recognise the shape.
"""

from __future__ import annotations

import hmac
import re
import secrets
import zlib

PUBLIC_KEY_ID_PREFIX = "gqk_"
SECRET_PREFIX = "gqks_"
BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SECRET_BODY_LENGTH = 43  # 62**43 > 2**256
CHECKSUM_LENGTH = 6  # 62**6 > 2**32
SECRET_LENGTH = len(SECRET_PREFIX) + SECRET_BODY_LENGTH + CHECKSUM_LENGTH

_PUBLIC_KEY_ID = re.compile(r"gqk_[0-9a-f]{32}")
_SECRET = re.compile(rf"gqks_[0-9A-Za-z]{{{SECRET_BODY_LENGTH + CHECKSUM_LENGTH}}}")


def base62(number: int, width: int) -> str:
    """``number`` in base62, left-padded with ``0`` to exactly ``width`` characters."""
    if number < 0:
        raise ValueError("number must not be negative")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62_ALPHABET[remainder])
    if len(digits) > width:
        raise ValueError("number does not fit in width")
    return "".join(reversed(digits)).rjust(width, BASE62_ALPHABET[0])


def _checksum(text: str) -> str:
    return base62(zlib.crc32(text.encode("ascii")), CHECKSUM_LENGTH)


def new_public_key_id() -> str:
    """A public key identifier: ``gqk_`` + 32 lowercase hex characters (128 random bits)."""
    return PUBLIC_KEY_ID_PREFIX + secrets.token_hex(16)


def looks_like_public_key_id(text: str) -> bool:
    """Whether ``text`` has the exact shape of a public key identifier."""
    return _PUBLIC_KEY_ID.fullmatch(text) is not None


def new_secret() -> str:
    """A fresh HMAC secret with its checksum."""
    body = SECRET_PREFIX + base62(int.from_bytes(secrets.token_bytes(32)), SECRET_BODY_LENGTH)
    return body + _checksum(body)


def secret_checksum_valid(secret: str) -> bool:
    """Whether ``secret`` has the secret shape and a matching checksum."""
    if _SECRET.fullmatch(secret) is None:
        return False
    body, checksum = secret[:-CHECKSUM_LENGTH], secret[-CHECKSUM_LENGTH:]
    return hmac.compare_digest(_checksum(body), checksum)


def secret_aad(public_key_id: str) -> bytes:
    """Associated data binding a sealed HMAC secret to its key: a ciphertext copied onto
    another key's row does not open."""
    return f"api-key:{public_key_id}".encode()
