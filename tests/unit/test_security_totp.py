import base64
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from gql_keys.security.totp import (
    RecoveryCodeHasher,
    matching_step,
    new_recovery_codes,
    new_seed,
    normalise_recovery_code,
    provisioning_uri,
    qr_svg,
)

NOW = 1_732_560_015.0  # step 57752000, 15 s into it
STEP = int(NOW // 30)


def code_at(seed: str, step: int) -> str:
    return pyotp.TOTP(seed).at(step * 30)


def test_seed_is_160_bit_base32_without_padding() -> None:
    seed = new_seed()
    assert len(seed) == 32
    assert "=" not in seed
    assert len(base64.b32decode(seed)) == 20
    assert new_seed() != seed


def test_provisioning_uri_names_issuer_and_account() -> None:
    seed = new_seed()
    uri = provisioning_uri(seed, "alice@example.com")
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth"
    assert parsed.netloc == "totp"
    assert "gql-keys" in parsed.path
    assert "alice%40example.com" in parsed.path or "alice@example.com" in parsed.path
    params = parse_qs(parsed.query)
    assert params["secret"] == [seed]
    assert params["issuer"] == ["gql-keys"]


def test_qr_svg_is_an_svg_document() -> None:
    svg = qr_svg(provisioning_uri(new_seed(), "alice@example.com"))
    assert svg.lstrip().startswith("<?xml")
    assert "<svg" in svg
    assert svg.rstrip().endswith("</svg>")


def test_current_code_matches_current_step() -> None:
    seed = new_seed()
    assert matching_step(seed, code_at(seed, STEP), NOW) == STEP


@pytest.mark.parametrize("offset", [-1, 1])
def test_code_within_drift_reports_its_own_step(offset: int) -> None:
    seed = new_seed()
    assert matching_step(seed, code_at(seed, STEP + offset), NOW) == STEP + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_code_outside_drift_is_refused(offset: int) -> None:
    seed = new_seed()
    code = code_at(seed, STEP + offset)
    # Guard against the one-in-a-million collision with a code inside the window.
    if any(code == code_at(seed, STEP + d) for d in (-1, 0, 1)):
        pytest.skip("random collision")
    assert matching_step(seed, code, NOW) is None


def test_larger_drift_widens_the_window() -> None:
    seed = new_seed()
    assert matching_step(seed, code_at(seed, STEP + 2), NOW, drift=2) == STEP + 2


def test_spaces_in_code_are_ignored() -> None:
    seed = new_seed()
    code = code_at(seed, STEP)
    assert matching_step(seed, f" {code[:3]} {code[3:]} ", NOW) == STEP


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "+12345", "-12345"])
def test_malformed_codes_are_refused(code: str) -> None:
    assert matching_step(new_seed(), code, NOW) is None


def test_recovery_codes_are_unique_readable_and_strong() -> None:
    codes = new_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert len(code) == 11
        assert code[5] == "-"
        assert not set(code) & set("ilou")
    assert len(new_recovery_codes(3)) == 3


def test_recovery_code_normalisation() -> None:
    assert normalise_recovery_code(" ABCDE-FGH0J ") == "abcdefgh0j"
    assert normalise_recovery_code("abcde fgh0j") == "abcdefgh0j"
    assert normalise_recovery_code("oOiIl-00111") == "0011100111"


def test_recovery_code_roundtrip() -> None:
    hasher = RecoveryCodeHasher()
    code = new_recovery_codes(1)[0]
    stored = hasher.hash(code)
    assert stored.startswith("$pbkdf2-sha256$")
    assert code not in stored
    assert hasher.verify(code, stored)
    assert hasher.verify(code.upper().replace("-", " "), stored)
    assert not hasher.verify(new_recovery_codes(1)[0], stored)


def test_recovery_code_verify_refuses_junk() -> None:
    hasher = RecoveryCodeHasher()
    stored = hasher.hash("abcde-fghjk")
    assert not hasher.verify("", stored)
    assert not hasher.verify("x" * 100, stored)
    assert not hasher.verify("abcde-fghjk", "not-a-hash")
