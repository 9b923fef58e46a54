import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gql_keys.security.signing import (
    DUMMY_SECRET,
    MAX_FIELD,
    hmac_sha512_hex,
    is_sha512_hex,
    parse_ed25519_public_key,
    parse_timestamp,
    replay_key,
    signing_payload,
    timestamp_in_window,
    verify_ed25519,
    verify_hmac_sha512,
)

EMPTY_SHA512 = hashlib.sha512(b"").hexdigest()
GATE_SIGN = (
    "55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6"
    "fb3faf24deff16790d726b66ac9f74526668b13bd01029199cc4fcc522418b8a"
)
GATE_FIELDS = (
    "GET",
    "/api/v4/futures/orders",
    "contract=BTC_USD&status=finished&limit=50",
    EMPTY_SHA512,
    "1541993715",
)


def gate_payload() -> bytes:
    return signing_payload(*GATE_FIELDS)


def raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def test_gate_documented_vector_verifies() -> None:
    payload = gate_payload()
    assert payload == (
        b"GET\n/api/v4/futures/orders\ncontract=BTC_USD&status=finished&limit=50\n"
        + EMPTY_SHA512.encode()
        + b"\n1541993715"
    )
    assert hmac_sha512_hex("secret", payload) == GATE_SIGN
    assert verify_hmac_sha512(b"secret", payload, GATE_SIGN)


def test_hmac_signature_is_case_insensitive() -> None:
    assert verify_hmac_sha512(b"secret", gate_payload(), GATE_SIGN.upper())


def test_method_is_upper_cased() -> None:
    assert signing_payload("get", *GATE_FIELDS[1:]) == gate_payload()


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (0, "POST"),
        (1, "/api/v4/futures/order"),
        (2, "contract=BTC_USD&status=finished&limit=51"),
        (3, hashlib.sha512(b"x").hexdigest()),
        (4, "1541993716"),
    ],
)
def test_tampering_any_payload_part_fails(index: int, value: str) -> None:
    fields = list(GATE_FIELDS)
    fields[index] = value
    tampered = signing_payload(*fields)
    assert tampered != gate_payload()
    assert not verify_hmac_sha512(b"secret", tampered, GATE_SIGN)


def test_wrong_secret_fails() -> None:
    assert not verify_hmac_sha512(b"secreT", gate_payload(), GATE_SIGN)
    assert not verify_hmac_sha512(DUMMY_SECRET, gate_payload(), GATE_SIGN)


@pytest.mark.parametrize(
    "junk",
    ["", "zz", GATE_SIGN[:-1], GATE_SIGN + "0", "g" * 128, "é" * 128, GATE_SIGN[:-1] + "\n"],
)
def test_hmac_verify_returns_false_on_junk(junk: str) -> None:
    assert verify_hmac_sha512(b"secret", gate_payload(), junk) is False


def test_dummy_secret_is_random_bytes() -> None:
    assert isinstance(DUMMY_SECRET, bytes)
    assert len(DUMMY_SECRET) == 32


@pytest.mark.parametrize("index", [0, 1, 2, 4])
def test_line_breaks_in_fields_are_refused(index: int) -> None:
    fields = list(GATE_FIELDS)
    fields[index] = fields[index] + "\nX"
    with pytest.raises(ValueError, match="line break"):
        signing_payload(*fields)


def test_oversized_field_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        signing_payload("GET", "/" * (MAX_FIELD + 1), "", EMPTY_SHA512, "1")


def test_ed25519_sign_verify_roundtrip() -> None:
    private = Ed25519PrivateKey.generate()
    payload = gate_payload()
    signature = base64.b64encode(private.sign(payload)).decode()
    assert verify_ed25519(raw_public(private), payload, signature)
    assert not verify_ed25519(raw_public(private), payload + b"x", signature)
    other = Ed25519PrivateKey.generate()
    assert not verify_ed25519(raw_public(other), payload, signature)


def test_ed25519_accepts_urlsafe_and_unpadded_signatures() -> None:
    private = Ed25519PrivateKey.generate()
    payload = gate_payload()
    raw_sig = private.sign(payload)
    assert verify_ed25519(raw_public(private), payload, base64.urlsafe_b64encode(raw_sig).decode())
    unpadded = base64.b64encode(raw_sig).decode().rstrip("=")
    assert verify_ed25519(raw_public(private), payload, unpadded)


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "!!!",
        "a" * 300,
        base64.b64encode(b"x" * 63).decode(),
        base64.b64encode(b"\0" * 64).decode(),
    ],
)
def test_ed25519_verify_returns_false_on_junk(junk: str) -> None:
    private = Ed25519PrivateKey.generate()
    assert verify_ed25519(raw_public(private), gate_payload(), junk) is False


def test_ed25519_verify_returns_false_on_bad_public_key() -> None:
    private = Ed25519PrivateKey.generate()
    signature = base64.b64encode(private.sign(b"m")).decode()
    assert verify_ed25519(b"short", b"m", signature) is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1541993715", 1541993715.0),
        ("1732560000.1234567", 1732560000.1234567),
        ("0", 0.0),
        ("1732560000.5", 1732560000.5),
    ],
)
def test_integer_and_decimal_timestamps_parse(text: str, expected: float) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        " 1541993715",
        "1541993715 ",
        "1541993715\n",
        "+1541993715",
        "-1541993715",
        "1.5e9",
        "1541993715e0",
        "nan",
        "inf",
        "Infinity",
        "0x5be8fa73",
        "1541993715.",
        ".5",
        "1_541_993_715",
        "١٥٤١٩٩٣٧١٥",
        "1" * 33,
        "1" * 21,
    ],
)
def test_malformed_timestamps_are_rejected(text: str) -> None:
    assert parse_timestamp(text) is None


def test_timestamp_window_is_inclusive_both_sides() -> None:
    assert timestamp_in_window(1000.0, 1060.0, 60)
    assert timestamp_in_window(1120.0, 1060.0, 60)
    assert not timestamp_in_window(999.9, 1060.0, 60)
    assert not timestamp_in_window(1120.1, 1060.0, 60)
    assert not timestamp_in_window(float("nan"), 1060.0, 60)


def test_sha512_hex_must_be_lowercase_128_chars() -> None:
    assert is_sha512_hex(EMPTY_SHA512)
    assert not is_sha512_hex(EMPTY_SHA512.upper())
    assert not is_sha512_hex(EMPTY_SHA512[:-1])
    assert not is_sha512_hex(EMPTY_SHA512 + "\n")
    assert not is_sha512_hex("")


def test_public_key_parses_from_pem_and_base64_forms() -> None:
    private = Ed25519PrivateKey.generate()
    raw = raw_public(private)
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert parse_ed25519_public_key(pem) == raw
    assert parse_ed25519_public_key(base64.b64encode(raw).decode()) == raw
    assert parse_ed25519_public_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    assert parse_ed25519_public_key(base64.b64encode(der).decode()) == raw


def test_non_ed25519_or_malformed_public_keys_are_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for text in [ec_pem, "", "not base64!", base64.b64encode(b"x" * 31).decode(), "-----BEGIN x"]:
        assert parse_ed25519_public_key(text) is None


@pytest.mark.parametrize(
    "hex_point",
    [
        "00" * 32,  # order 4
        "01" + "00" * 31,  # identity
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
        "ec" + "ff" * 30 + "7f",  # order 2
        "ed" + "ff" * 30 + "7f",  # non-canonical
    ],
)
def test_small_order_public_keys_are_refused(hex_point: str) -> None:
    assert parse_ed25519_public_key(base64.b64encode(bytes.fromhex(hex_point)).decode()) is None


def test_generated_public_keys_are_not_flagged_weak() -> None:
    for _ in range(20):
        raw = raw_public(Ed25519PrivateKey.generate())
        assert parse_ed25519_public_key(base64.b64encode(raw).decode()) == raw


def test_replay_key_ignores_signature_spelling() -> None:
    assert replay_key("gqk_a", gate_payload()) == replay_key("gqk_a", gate_payload())
    assert replay_key("gqk_a", gate_payload()) != replay_key("gqk_b", gate_payload())
