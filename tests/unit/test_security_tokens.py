import base64
import hashlib

from gql_keys.security.tokens import (
    SERVICE_TOKEN_PREFIX,
    SESSION_TOKEN_PREFIX,
    new_token,
    token_digest,
)


def test_prefixes_are_fixed() -> None:
    assert SESSION_TOKEN_PREFIX == "gks_"
    assert SERVICE_TOKEN_PREFIX == "gksvc_"


def test_token_carries_256_random_bits_after_prefix() -> None:
    token = new_token(SESSION_TOKEN_PREFIX)
    assert token.startswith("gks_")
    body = token.removeprefix("gks_")
    assert len(base64.urlsafe_b64decode(body + "=")) == 32
    assert new_token(SESSION_TOKEN_PREFIX) != token


def test_digest_is_sha256_hex() -> None:
    token = new_token(SERVICE_TOKEN_PREFIX)
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert len(token_digest(token)) == 64
