"""Key-creation validation and policies, without a database."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gql_keys.domain_errors import ErrorCode, InvalidInput
from gql_keys.scopes import Scope
from gql_keys.services.key_policy import (
    KeyAlgorithm,
    NewKeyRequest,
    normalise_allowlist_entry,
    normalise_label,
    validate_new_key,
)
from gql_keys.settings import Settings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SETTINGS = Settings()


def request(**overrides: Any) -> NewKeyRequest:
    values: dict[str, Any] = {"label": "bot", "scopes": [Scope.SPOT_READ]}
    values.update(overrides)
    return NewKeyRequest(**values)


def problems(req: NewKeyRequest) -> list[tuple[ErrorCode, tuple[str, ...] | None]]:
    with pytest.raises(InvalidInput) as caught:
        validate_new_key(req, SETTINGS, NOW)
    return [(e.code, e.field) for e in caught.value.errors]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10.0.0.1", "10.0.0.1"),
        (" 10.0.0.1 ", "10.0.0.1"),
        ("10.0.0.1/32", "10.0.0.1"),
        ("10.0.0.7/24", "10.0.0.0/24"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8::1/128", "2001:db8::1"),
        ("2001:db8:abcd::/48", "2001:db8:abcd::/48"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
        ("::1", "::1"),
        ("0.0.0.0/0", None),
        ("::/0", None),
        ("8.8.8.8/0", None),
        ("::ffff:0.0.0.0/96", None),
        ("10.0.0.0/33", None),
        ("fe80::1%eth0", None),
        ("localhost", None),
        ("", None),
        ("1.2.3", None),
        ("1" * 100, None),
    ],
)
def test_allowlist_entries_are_parsed_and_normalised(raw: str, expected: str | None) -> None:
    assert normalise_allowlist_entry(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  My bot  ", "My bot"),
        ("x" * 64, "x" * 64),
        ("x" * 65, None),
        ("", None),
        ("\t\n", None),
        ("bot\u200b", None),
        ("ünïcödé 🚀", "ünïcödé 🚀"),
    ],
)
def test_labels_are_trimmed_and_bounded(raw: str, expected: str | None) -> None:
    assert normalise_label(raw) == expected


def test_a_valid_request_is_normalised() -> None:
    spec = validate_new_key(
        request(
            label=" bot ",
            scopes=[Scope.WALLET_READ, Scope.SPOT_WRITE],
            ip_allowlist=["10.0.0.1", "10.0.0.1/32"],
        ),
        SETTINGS,
        NOW,
    )
    assert spec.label == "bot"
    assert spec.scopes == ["SPOT_WRITE", "WALLET_READ"]
    assert spec.ip_allowlist == ["10.0.0.1"]
    assert spec.expires_at is None
    assert spec.expiry_clamped is False
    assert spec.rate_limit_requests is None


def test_no_allowlist_clamps_expiry_to_ninety_days() -> None:
    spec = validate_new_key(request(), SETTINGS, NOW)
    assert spec.expires_at == NOW + timedelta(days=90)
    assert spec.expiry_clamped is True
    later = validate_new_key(request(expires_at=NOW + timedelta(days=91)), SETTINGS, NOW)
    assert later.expires_at == NOW + timedelta(days=90)
    assert later.expiry_clamped is True
    earlier = validate_new_key(request(expires_at=NOW + timedelta(days=89)), SETTINGS, NOW)
    assert earlier.expires_at == NOW + timedelta(days=89)
    assert earlier.expiry_clamped is False


def test_the_clamp_follows_settings() -> None:
    settings = SETTINGS.with_overrides(unrestricted_key_max_days=7)
    spec = validate_new_key(request(), settings, NOW)
    assert spec.expires_at == NOW + timedelta(days=7)


def test_naive_expiry_is_read_as_utc() -> None:
    naive = (NOW + timedelta(days=1)).replace(tzinfo=None)
    spec = validate_new_key(request(expires_at=naive), SETTINGS, NOW)
    assert spec.expires_at == NOW + timedelta(days=1)


def test_expiry_must_be_in_the_future() -> None:
    assert problems(request(expires_at=NOW)) == [(ErrorCode.INVALID_INPUT, ("input", "expiresAt"))]


def test_withdraw_needs_an_allowlist() -> None:
    assert problems(request(scopes=[Scope.WITHDRAW])) == [
        (ErrorCode.INVALID_INPUT, ("input", "ipAllowlist"))
    ]
    spec = validate_new_key(
        request(scopes=[Scope.WITHDRAW], ip_allowlist=["203.0.113.0/24"]), SETTINGS, NOW
    )
    assert spec.scopes == ["WITHDRAW"]


def test_duplicate_scopes_name_the_repeated_position() -> None:
    req = request(scopes=[Scope.SPOT_READ, Scope.MARGIN_READ, Scope.SPOT_READ])
    assert problems(req) == [(ErrorCode.INVALID_INPUT, ("input", "scopes", "2"))]


def test_allowlist_size_is_bounded_by_settings() -> None:
    entries = [f"10.0.0.{i}" for i in range(21)]
    assert problems(request(ip_allowlist=entries)) == [
        (ErrorCode.INVALID_INPUT, ("input", "ipAllowlist"))
    ]
    spec = validate_new_key(request(ip_allowlist=entries[:20]), SETTINGS, NOW)
    assert len(spec.ip_allowlist) == 20


def test_rate_limit_must_be_positive_and_bounded() -> None:
    both = request(has_rate_limit=True, rate_limit_requests=0, rate_limit_per_seconds=86_401)
    assert problems(both) == [
        (ErrorCode.INVALID_INPUT, ("input", "rateLimit", "requests")),
        (ErrorCode.INVALID_INPUT, ("input", "rateLimit", "perSeconds")),
    ]
    ok = request(has_rate_limit=True, rate_limit_requests=5, rate_limit_per_seconds=60)
    spec = validate_new_key(ok, SETTINGS, NOW)
    assert (spec.rate_limit_requests, spec.rate_limit_per_seconds) == (5, 60)


def test_ed25519_key_is_stored_as_base64_of_the_raw_bytes() -> None:
    public = Ed25519PrivateKey.generate().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    for text in (pem, base64.b64encode(raw).decode()):
        spec = validate_new_key(
            request(algorithm=KeyAlgorithm.ED25519, public_key=text), SETTINGS, NOW
        )
        assert spec.public_key_b64 == base64.b64encode(raw).decode()


def test_public_key_rules_per_algorithm() -> None:
    assert problems(request(algorithm=KeyAlgorithm.ED25519)) == [
        (ErrorCode.INVALID_INPUT, ("input", "publicKey"))
    ]
    assert problems(request(algorithm=KeyAlgorithm.ED25519, public_key="   ")) == [
        (ErrorCode.INVALID_INPUT, ("input", "publicKey"))
    ]
    assert problems(request(public_key="AAAA")) == [
        (ErrorCode.INVALID_INPUT, ("input", "publicKey"))
    ]
