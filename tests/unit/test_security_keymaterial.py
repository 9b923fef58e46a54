import pytest

from gql_keys.security.keymaterial import (
    BASE62_ALPHABET,
    SECRET_LENGTH,
    base62,
    looks_like_public_key_id,
    new_public_key_id,
    new_secret,
    secret_checksum_valid,
)


def test_public_key_id_shape() -> None:
    key_id = new_public_key_id()
    assert key_id.startswith("gqk_")
    assert len(key_id) == 36
    assert looks_like_public_key_id(key_id)
    assert new_public_key_id() != key_id


@pytest.mark.parametrize(
    "text",
    [
        "",
        "gqk_",
        "gqk_" + "A" * 32,
        "gqk_" + "0" * 31,
        "gqk_" + "0" * 33,
        "gqks_" + "0" * 32,
        "gqk_" + "0" * 32 + "\n",
    ],
)
def test_not_public_key_ids(text: str) -> None:
    assert not looks_like_public_key_id(text)


def test_secret_shape_and_checksum() -> None:
    secret = new_secret()
    assert secret.startswith("gqks_")
    assert len(secret) == SECRET_LENGTH == 54
    assert set(secret[5:]) <= set(BASE62_ALPHABET)
    assert secret_checksum_valid(secret)
    assert new_secret() != secret


def test_checksum_detects_a_single_changed_character() -> None:
    secret = new_secret()
    for index in range(5, len(secret)):
        for replacement in ("0", "z"):
            if secret[index] == replacement:
                continue
            altered = secret[:index] + replacement + secret[index + 1 :]
            assert not secret_checksum_valid(altered), index


def test_checksum_refuses_wrong_shapes() -> None:
    secret = new_secret()
    assert not secret_checksum_valid(secret[:-1])
    assert not secret_checksum_valid(secret + "0")
    assert not secret_checksum_valid("gqk_" + secret[4:])
    assert not secret_checksum_valid(secret[:10] + "-" + secret[11:])
    assert not secret_checksum_valid("")


def test_base62_is_fixed_width() -> None:
    assert base62(0, 6) == "000000"
    assert base62(61, 2) == "0z"
    assert base62(62, 2) == "10"
    assert base62(2**32 - 1, 6) == "4gfFC3"
    with pytest.raises(ValueError, match="fit"):
        base62(62**2, 2)
