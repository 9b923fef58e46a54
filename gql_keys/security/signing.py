"""Request signatures in the Gate APIv4 wire format (HMAC-SHA512 and Ed25519).

``payload = METHOD \\n PATH \\n QUERY \\n hex(SHA512(body)) \\n TIMESTAMP``. The
verification functions never raise on hostile input: they return False or None.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MAX_FIELD = 8192  # longest accepted method, path, query or timestamp (characters)
MAX_TIMESTAMP_LENGTH = 32
MAX_SIGNATURE_LENGTH = 256
MAX_PUBLIC_KEY_TEXT = 2048
ED25519_KEY_BYTES = 32
ED25519_SIGNATURE_BYTES = 64

DUMMY_SECRET: bytes = secrets.token_bytes(32)
"""Random per process: HMAC with it for an unknown key so both paths cost the same."""

_TIMESTAMP = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
_SHA512_HEX = re.compile(r"[0-9a-f]{128}")
# DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), followed by the 32 raw bytes.
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def is_sha512_hex(text: str) -> bool:
    """Whether ``text`` is 128 lowercase hex characters."""
    return _SHA512_HEX.fullmatch(text) is not None


def signing_payload(
    method: str, path: str, query: str, body_sha512_hex: str, timestamp: str
) -> bytes:
    """The exact bytes that are signed; the method is upper-cased.

    Raises ValueError when a field is longer than :data:`MAX_FIELD` or contains a line
    break (which would let text move between fields).
    """
    fields = (method.upper(), path, query, body_sha512_hex, timestamp)
    for field in fields:
        if len(field) > MAX_FIELD:
            raise ValueError("signing field too long")
        if "\n" in field or "\r" in field:
            raise ValueError("signing field contains a line break")
    return "\n".join(fields).encode("utf-8")


def hmac_sha512_hex(secret: str, payload: bytes) -> str:
    """Lowercase hex HMAC-SHA512 of ``payload`` keyed with the UTF-8 bytes of ``secret``."""
    return hmac.new(secret.encode("utf-8"), payload, hashlib.sha512).hexdigest()


def verify_hmac_sha512(secret: bytes, payload: bytes, signature: str) -> bool:
    """Whether ``signature`` (128 hex characters, any case) is the HMAC of ``payload``.

    ``hmac.digest`` is OpenSSL's one-shot HMAC (no ``HMAC`` object built in Python). Only
    the 128 lowercase hex digits of the HMAC equal ``signature.lower()``; the length and
    ``isascii`` checks refuse anything else at a fixed cost (``compare_digest`` refuses
    non-ASCII strings).
    """
    expected = hmac.digest(secret, payload, "sha512").hex()
    if len(signature) != len(expected) or not signature.isascii():
        return False
    return hmac.compare_digest(expected, signature.lower())


def _b64decode_lenient(text: str) -> bytes:
    """Decode standard or urlsafe base64, padded or not; raise ValueError otherwise."""
    compact = text.strip().replace("-", "+").replace("_", "/")
    compact = compact.rstrip("=")
    compact += "=" * (-len(compact) % 4)
    return base64.b64decode(compact.encode("ascii"), validate=True)


def verify_ed25519(public_key_raw: bytes, payload: bytes, signature_b64: str) -> bool:
    """Whether ``signature_b64`` (base64 of 64 bytes) is a valid Ed25519 signature."""
    if len(signature_b64) > MAX_SIGNATURE_LENGTH:
        return False
    try:
        signature = _b64decode_lenient(signature_b64)
        if len(signature) != ED25519_SIGNATURE_BYTES:
            return False
        Ed25519PublicKey.from_public_bytes(public_key_raw).verify(signature, payload)
    except (InvalidSignature, ValueError, binascii.Error, UnicodeEncodeError, TypeError):
        return False
    return True


def parse_timestamp(text: str) -> float | None:
    """Unix seconds from the ``Timestamp`` header text (``1541993715`` or ``1732560000.12``).

    Only plain ASCII digits with an optional fraction are accepted: no sign, spaces,
    exponent, nan or inf, and at most 32 characters.
    """
    if len(text) > MAX_TIMESTAMP_LENGTH or _TIMESTAMP.fullmatch(text) is None:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def timestamp_in_window(ts: float, now: float, window_seconds: float) -> bool:
    """Whether ``ts`` is within ``window_seconds`` of ``now`` (either side)."""
    if not (math.isfinite(ts) and math.isfinite(now)):
        return False
    return abs(ts - now) <= window_seconds


def replay_key(public_key_id: str, payload: bytes) -> str:
    """A canonical fingerprint of a signed request for replay detection.

    Use it instead of the ``SIGN`` text, which has many accepted spellings (hex case,
    base64 padding) for one signature.
    """
    digest = hashlib.sha256(payload).hexdigest()
    return f"{public_key_id}:{digest}"


def parse_ed25519_public_key(text: str) -> bytes | None:
    """The 32 raw bytes of an Ed25519 public key given as PEM or base64, else None.

    Base64 may be standard or urlsafe, padded or not, of the raw key or of its DER
    SubjectPublicKeyInfo. Keys of small order (which anyone can forge for) are refused.
    """
    if len(text) > MAX_PUBLIC_KEY_TEXT:
        return None
    stripped = text.strip()
    try:
        if stripped.startswith("-----BEGIN"):
            loaded = serialization.load_pem_public_key(stripped.encode("ascii"))
            if not isinstance(loaded, Ed25519PublicKey):
                return None
            raw = loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            raw = _b64decode_lenient("".join(stripped.split()))
            if len(raw) == len(_ED25519_SPKI_PREFIX) + ED25519_KEY_BYTES and raw.startswith(
                _ED25519_SPKI_PREFIX
            ):
                raw = raw[len(_ED25519_SPKI_PREFIX) :]
            if len(raw) != ED25519_KEY_BYTES:
                return None
            Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error, UnicodeEncodeError, TypeError, UnsupportedAlgorithm):
        return None
    if _is_weak_ed25519_point(raw):
        return None
    return raw


# Edwards25519 arithmetic, only to refuse non-canonical or small-order public keys.
_P = 2**255 - 19
_D = (-121665 * pow(121666, -1, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _is_weak_ed25519_point(raw: bytes) -> bool:
    """Whether ``raw`` is not a canonical curve point, or a point of order dividing 8."""
    encoded = int.from_bytes(raw, "little")
    sign = encoded >> 255
    y = encoded & ((1 << 255) - 1)
    if y >= _P:
        return True
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x2 = (u * pow(v, -1, _P)) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = (x * _SQRT_M1) % _P
    if (x * x - x2) % _P != 0:
        return True  # not on the curve
    if x == 0 and sign == 1:
        return True
    if x & 1 != sign:
        x = _P - x
    # Three doublings in projective coordinates (a = -1): [8]P is the identity iff
    # P has small order.
    big_x, big_y, big_z = x, y, 1
    for _ in range(3):
        a = big_x * big_x % _P
        b = big_y * big_y % _P
        c = 2 * big_z * big_z % _P
        e = ((big_x + big_y) ** 2 - a - b) % _P
        g = (b - a) % _P
        f = (g - c) % _P
        h = (-a - b) % _P
        big_x, big_y, big_z = e * f % _P, g * h % _P, f * g % _P
    return big_x == 0 and big_y == big_z
