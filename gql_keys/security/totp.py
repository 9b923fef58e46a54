"""TOTP (RFC 6238) seeds, codes and QR codes, plus one-time recovery codes."""

from __future__ import annotations

import base64
import hmac
import io
import secrets

import pyotp
import segno
from passlib.context import CryptContext

ISSUER = "gql-keys"
STEP_SECONDS = 30
DIGITS = 6

# Crockford base32, lower case: no i, l, o or u, so codes are easy to read back.
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RECOVERY_GROUP = 5
RECOVERY_GROUPS = 2  # 10 symbols of 5 bits: 50 bits per code
_CONFUSABLES = str.maketrans({"o": "0", "i": "1", "l": "1"})


def new_seed() -> str:
    """A fresh 160-bit TOTP seed, base32 without padding (32 characters)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def provisioning_uri(seed: str, account_name: str) -> str:
    """The ``otpauth://`` URI that authenticator apps scan."""
    return pyotp.TOTP(seed, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=ISSUER
    )


def qr_svg(uri: str) -> str:
    """An SVG document with the QR code of ``uri``."""
    buffer = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(
        buffer, kind="svg", scale=4, xmldecl=True, svgns=True
    )
    return buffer.getvalue().decode("utf-8")


def matching_step(seed: str, code: str, at: float, drift: int = 1) -> int | None:
    """The time step within ``drift`` steps of ``at`` whose code is ``code``, or None.

    Spaces in ``code`` are ignored; anything but exactly six ASCII digits is None.
    Every candidate step is compared (in constant time) so timing reveals nothing.
    """
    candidate = "".join(code.split())
    if len(candidate) != DIGITS or not (candidate.isascii() and candidate.isdigit()):
        return None
    totp = pyotp.TOTP(seed, digits=DIGITS, interval=STEP_SECONDS)
    current = int(at // STEP_SECONDS)
    found: int | None = None
    for offset in range(-drift, drift + 1):
        step = current + offset
        if step < 0:
            continue
        if hmac.compare_digest(totp.generate_otp(step), candidate) and found is None:
            found = step
    return found


def new_recovery_codes(count: int = 10) -> list[str]:
    """``count`` random recovery codes shaped ``xxxxx-xxxxx`` (50 bits each)."""
    return [
        "-".join(
            "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP))
            for _ in range(RECOVERY_GROUPS)
        )
        for _ in range(count)
    ]


def normalise_recovery_code(text: str) -> str:
    """Canonical form of a typed recovery code: lower case, no spaces or dashes.

    Letters commonly mistaken for digits (o, i, l) are read as 0 and 1.
    """
    compact = "".join(text.split()).replace("-", "").lower()
    return compact.translate(_CONFUSABLES)


class RecoveryCodeHasher:
    """Salted PBKDF2-SHA256 hashes of recovery codes.

    Codes carry 50 random bits, so a slow password hash buys nothing: even a few
    thousand rounds make exhausting 2**50 candidates per salt infeasible, while
    checking a code against ten stored hashes stays in the low milliseconds.
    """

    ROUNDS = 5000

    def __init__(self, rounds: int = ROUNDS) -> None:
        self._context = CryptContext(schemes=["pbkdf2_sha256"], pbkdf2_sha256__rounds=rounds)

    def hash(self, code: str) -> str:
        """Hash the normalised form of ``code``."""
        return str(self._context.hash(normalise_recovery_code(code)))

    def verify(self, code: str, stored: str) -> bool:
        """Whether ``code`` (as typed) matches ``stored``; False on malformed input."""
        normalised = normalise_recovery_code(code)
        if not normalised or len(normalised) > 64:
            return False
        try:
            return bool(self._context.verify(normalised, stored))
        except (ValueError, TypeError):
            return False
