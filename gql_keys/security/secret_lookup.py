"""A keyed hash of each HMAC secret, to find a key by a secret that leaked.

``lookup = hex(HMAC-SHA256(K, secret))`` where ``K = HKDF-SHA256(master key, info=…)``: a
key of its own, derived from the master key, so the index reveals nothing without it
(a bare SHA-256 of a secret could be checked against a stolen database by anyone holding
a candidate secret; these 256-bit secrets cannot be guessed, but a copy of the database
must not confirm a secret found elsewhere either). A row keeps the hash made under the
master key active when it was written; a search hashes the candidate under every known
master key (the active one and those kept to open old secrets), so rotating the master key
needs no re-indexing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"gql-keys secret lookup v1"


def _lookup_key(master_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master_key)


class SecretIndex:
    """Hashes secrets for the lookup columns (``active`` first, then retired keys)."""

    def __init__(self, master_keys: Sequence[bytes]) -> None:
        if not master_keys:
            raise ValueError("at least one master key is needed")
        self._keys = tuple(_lookup_key(key) for key in master_keys)

    def digest(self, secret: str) -> str:
        """What a row stores for ``secret`` (under the active master key)."""
        return self._digest(self._keys[0], secret)

    def candidates(self, secret: str) -> list[str]:
        """Every value a row holding ``secret`` may store, one per known master key."""
        return [self._digest(key, secret) for key in self._keys]

    @staticmethod
    def _digest(key: bytes, secret: str) -> str:
        return hmac.new(key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
