import base64
import secrets

import pytest

from gql_keys.security.secretbox import SecretBox, SecretBoxError, key_id_for

AAD = b"api_key:42"


def test_seal_open_roundtrip_with_format() -> None:
    key = secrets.token_bytes(32)
    box = SecretBox.from_master_keys(key)
    sealed = box.seal(b"gqks_secret", AAD)
    kid, _, encoded = sealed.partition("$")
    assert kid == key_id_for(key) == box.active_key_id
    assert len(base64.urlsafe_b64decode(encoded)) == 12 + len(b"gqks_secret") + 16
    assert box.open(sealed, AAD) == b"gqks_secret"


def test_nonces_differ_between_seals() -> None:
    box = SecretBox.from_master_keys(secrets.token_bytes(32))
    assert box.seal(b"same", AAD) != box.seal(b"same", AAD)


def test_old_key_still_opens_after_rotation() -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    sealed = SecretBox.from_master_keys(old).seal(b"secret", AAD)
    rotated = SecretBox.from_master_keys(new, retired=[old])
    assert rotated.open(sealed, AAD) == b"secret"
    resealed = rotated.seal(b"secret", AAD)
    assert resealed.startswith(key_id_for(new) + "$")


def test_unknown_key_id_is_refused() -> None:
    sealed = SecretBox.from_master_keys(secrets.token_bytes(32)).seal(b"secret", AAD)
    with pytest.raises(SecretBoxError):
        SecretBox.from_master_keys(secrets.token_bytes(32)).open(sealed, AAD)


def test_tampered_ciphertext_is_refused() -> None:
    box = SecretBox.from_master_keys(secrets.token_bytes(32))
    kid, _, encoded = box.seal(b"secret", AAD).partition("$")
    raw = bytearray(base64.urlsafe_b64decode(encoded))
    for index in (0, 12, len(raw) - 1):
        flipped = bytearray(raw)
        flipped[index] ^= 1
        tampered = f"{kid}${base64.urlsafe_b64encode(bytes(flipped)).decode()}"
        with pytest.raises(SecretBoxError):
            box.open(tampered, AAD)


def test_wrong_associated_data_is_refused() -> None:
    box = SecretBox.from_master_keys(secrets.token_bytes(32))
    sealed = box.seal(b"secret", AAD)
    with pytest.raises(SecretBoxError):
        box.open(sealed, b"api_key:43")


@pytest.mark.parametrize("sealed", ["", "nodollar", "$", "kid$", "kid$!!!!", "kid$" + "A" * 8])
def test_malformed_values_are_refused(sealed: str) -> None:
    key = secrets.token_bytes(32)
    box = SecretBox({"kid": key}, "kid")
    with pytest.raises(SecretBoxError):
        box.open(sealed, AAD)


def test_malformed_payload_with_known_kid_is_refused() -> None:
    key = secrets.token_bytes(32)
    box = SecretBox.from_master_keys(key)
    with pytest.raises(SecretBoxError):
        box.open(f"{key_id_for(key)}$é", AAD)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_keys_must_be_32_bytes(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox({"k": b"\0" * length}, "k")
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox.from_master_keys(b"\0" * length)


def test_active_key_must_be_known() -> None:
    with pytest.raises(ValueError, match="active_key_id"):
        SecretBox({"a": b"\0" * 32}, "b")


def test_key_id_is_sha256_prefix() -> None:
    assert key_id_for(b"\0" * 32) == "66687aad"
