"""Authenticated encryption of stored secrets (AES-256-GCM) with key rotation."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_SEPARATOR = "$"


class SecretBoxError(Exception):
    """A sealed value could not be opened: unknown key, tampered or malformed."""


def key_id_for(key: bytes) -> str:
    """The key identifier stored beside ciphertexts: first 8 hex chars of SHA-256(key)."""
    return hashlib.sha256(key).hexdigest()[:8]


class SecretBox:
    """Seals with the active key; opens with whichever known key sealed the value."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise ValueError("active_key_id is not among keys")
        self._ciphers: dict[str, AESGCM] = {}
        for kid, key in keys.items():
            if not kid or _SEPARATOR in kid:
                raise ValueError(f"invalid key id {kid!r}")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {kid!r} must be {KEY_BYTES} bytes, not {len(key)}")
            self._ciphers[kid] = AESGCM(bytes(key))
        self._active = active_key_id

    @classmethod
    def from_master_keys(cls, active: bytes, retired: Sequence[bytes] = ()) -> SecretBox:
        """Build a box whose key ids are derived with :func:`key_id_for`."""
        keys: dict[str, bytes] = {}
        for key in (active, *retired):
            kid = key_id_for(key)
            if kid in keys and keys[kid] != key:
                raise ValueError("two master keys share a key id")
            keys[kid] = key
        return cls(keys, key_id_for(active))

    @property
    def active_key_id(self) -> str:
        return self._active

    def seal(self, plaintext: bytes, aad: bytes) -> str:
        """Encrypt ``plaintext`` bound to ``aad``: ``"<kid>$<urlsafe-b64(nonce + ct)>"``."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        ciphertext = self._ciphers[self._active].encrypt(nonce, plaintext, aad)
        encoded = base64.urlsafe_b64encode(nonce + ciphertext).decode("ascii")
        return f"{self._active}{_SEPARATOR}{encoded}"

    def open(self, sealed: str, aad: bytes) -> bytes:
        """Decrypt a value made by :meth:`seal` with the same ``aad``.

        Raises :class:`SecretBoxError` on an unknown key id, tampering or a bad format.
        """
        kid, separator, encoded = sealed.partition(_SEPARATOR)
        if not separator:
            raise SecretBoxError("malformed sealed value")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise SecretBoxError("unknown key id")
        try:
            raw = base64.b64decode(encoded.encode("ascii"), altchars=b"-_", validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
            raise SecretBoxError("malformed sealed value") from exc
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise SecretBoxError("malformed sealed value")
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise SecretBoxError("sealed value failed authentication") from exc
