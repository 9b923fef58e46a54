"""The keyed hash that finds a key by a leaked secret: keyed by the master key, and
findable across a master-key rotation."""

from __future__ import annotations

import hashlib
import secrets

from gql_keys.security.keymaterial import new_secret
from gql_keys.security.secret_lookup import SecretIndex


def test_the_lookup_is_keyed_not_a_bare_hash() -> None:
    secret = new_secret()
    one, other = SecretIndex([secrets.token_bytes(32)]), SecretIndex([secrets.token_bytes(32)])
    assert one.digest(secret) != other.digest(secret)
    assert one.digest(secret) != hashlib.sha256(secret.encode()).hexdigest()
    assert one.digest(secret) == one.digest(secret)
    assert one.digest(secret) != one.digest(new_secret())


def test_a_secret_indexed_under_a_retired_master_key_is_still_found() -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    secret = new_secret()
    stored = SecretIndex([old]).digest(secret)
    rotated = SecretIndex([new, old])
    assert rotated.digest(secret) != stored  # new rows: under the active key
    assert stored in rotated.candidates(secret)
