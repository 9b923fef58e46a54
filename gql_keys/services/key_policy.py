"""Validating what a user asks for when creating a key, and the policies applied to it.

Pure functions: no database, no clock of their own. Every problem is a
:class:`DomainError` with ``INVALID_INPUT`` and the offending ``input`` field path;
:func:`validate_new_key` reports all of them at once.
"""

from __future__ import annotations

import base64
import ipaddress
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from gql_keys.domain_errors import DomainError, ErrorCode, InvalidInput
from gql_keys.scopes import Scope
from gql_keys.security.signing import parse_ed25519_public_key
from gql_keys.settings import Settings

MAX_LABEL_LENGTH = 64
MAX_ALLOWLIST_ENTRY_LENGTH = 64


class KeyAlgorithm(StrEnum):
    HMAC_SHA512 = "HMAC_SHA512"
    ED25519 = "ED25519"


@dataclass(frozen=True, slots=True)
class NewKeyRequest:
    """What the caller sent, before validation (mirrors ``CreateApiKeyInput``)."""

    label: str
    scopes: Sequence[Scope]
    ip_allowlist: Sequence[str] | None = None
    expires_at: datetime | None = None
    algorithm: KeyAlgorithm = KeyAlgorithm.HMAC_SHA512
    public_key: str | None = None
    rate_limit_requests: int | None = None
    rate_limit_per_seconds: int | None = None
    has_rate_limit: bool = False
    canary: bool = False


@dataclass(frozen=True, slots=True)
class KeySpec:
    """A validated key request with every policy applied: ready to store."""

    label: str
    scopes: list[str]
    ip_allowlist: list[str]
    expires_at: datetime | None
    expiry_clamped: bool
    algorithm: KeyAlgorithm
    public_key_b64: str | None
    rate_limit_requests: int | None
    rate_limit_per_seconds: int | None
    canary: bool = False


def _invalid(message: str, *field: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_INPUT, message, ("input", *field))


def normalise_label(raw: str) -> str | None:
    """The label trimmed, or None when empty, too long or containing control characters."""
    label = raw.strip()
    if not 1 <= len(label) <= MAX_LABEL_LENGTH:
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in label):
        return None
    return label


def parse_allowlist_entry(raw: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network an allowlist entry names, or None when it names none.

    Host bits are cleared (``10.0.0.7/24`` is ``10.0.0.0/24``) and an IPv4-mapped IPv6
    network becomes the IPv4 network it maps. Zone ids are refused.
    """
    text = raw.strip()
    if not text or len(text) > MAX_ALLOWLIST_ENTRY_LENGTH or "%" in text:
        return None
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network):
        mapped = network.network_address.ipv4_mapped
        if mapped is not None and network.prefixlen >= 96:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96), strict=False)
    return network


def allowlist_entry_text(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """The canonical text: a single-address network is written as the address, IPv6
    compressed and lower case."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def normalise_allowlist_entry(raw: str) -> str | None:
    """The canonical text of an IPv4/IPv6 address or CIDR network, or None.

    Networks with a prefix length of 0 (which allow every address) are refused here;
    :func:`validate_allowlist` also applies the width limits of the settings.
    """
    network = parse_allowlist_entry(raw)
    if network is None or network.prefixlen == 0:
        return None
    return allowlist_entry_text(network)


_MAPPED_IPV4 = ipaddress.IPv6Network("::ffff:0:0/96")


def too_wide(network: ipaddress.IPv4Network | ipaddress.IPv6Network, settings: Settings) -> bool:
    """Whether ``network`` is wider than the settings allow.

    An IPv6 network that covers every IPv4-mapped address is judged as the IPv4
    network it maps (which is then all of IPv4).
    """
    if isinstance(network, ipaddress.IPv4Network):
        return network.prefixlen < settings.allowlist_min_prefix_v4
    if network.supernet_of(_MAPPED_IPV4):
        return True
    return network.prefixlen < settings.allowlist_min_prefix_v6


def _too_wide_message(
    entry: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network, settings: Settings
) -> str:
    if isinstance(network, ipaddress.IPv4Network):
        widest = settings.allowlist_min_prefix_v4
        return f"{entry.strip()} is too wide: an IPv4 network may be at most a /{widest}."
    if network.supernet_of(_MAPPED_IPV4):
        return f"{entry.strip()} is too wide: it covers every IPv4-mapped address."
    widest = settings.allowlist_min_prefix_v6
    return f"{entry.strip()} is too wide: an IPv6 network may be at most a /{widest}."


def validate_allowlist(entries: Sequence[str], settings: Settings) -> list[str]:
    """The canonical allowlist for ``entries``, or :class:`InvalidInput` naming each bad
    entry. The one rule for creating a key and for every later change of its allowlist."""
    errors: list[DomainError] = []
    allowlist = _validate_allowlist(entries, settings, errors)
    if errors:
        raise InvalidInput(errors)
    return allowlist


def _validate_scopes(scopes: Sequence[Scope], errors: list[DomainError]) -> list[str]:
    if not scopes:
        errors.append(_invalid("Choose at least one scope.", "scopes"))
        return []
    seen: set[Scope] = set()
    for index, scope in enumerate(scopes):
        if scope in seen:
            errors.append(_invalid(f"{scope.value} is listed twice.", "scopes", str(index)))
        seen.add(scope)
    # Stored in catalogue order so equal requests store equal lists.
    return [s.value for s in Scope if s in seen]


def _validate_allowlist(
    entries: Sequence[str] | None, settings: Settings, errors: list[DomainError]
) -> list[str]:
    if entries is None:
        return []
    if len(entries) > settings.max_allowlist_entries:
        errors.append(
            _invalid(f"At most {settings.max_allowlist_entries} allowlist entries.", "ipAllowlist")
        )
        return []
    normalised: list[str] = []
    for index, entry in enumerate(entries):
        network = parse_allowlist_entry(entry)
        if network is None:
            errors.append(
                _invalid(
                    "Enter an IPv4 or IPv6 address or a CIDR network.", "ipAllowlist", str(index)
                )
            )
        elif network.prefixlen == 0 or too_wide(network, settings):
            errors.append(
                _invalid(_too_wide_message(entry, network, settings), "ipAllowlist", str(index))
            )
        elif (value := allowlist_entry_text(network)) not in normalised:
            normalised.append(value)
    return normalised


def _validate_public_key(
    algorithm: KeyAlgorithm, public_key: str | None, errors: list[DomainError]
) -> str | None:
    if algorithm is KeyAlgorithm.HMAC_SHA512:
        if public_key is not None:
            errors.append(
                _invalid("Only ED25519 keys carry a public key.", "publicKey"),
            )
        return None
    if public_key is None or not public_key.strip():
        errors.append(_invalid("An ED25519 key needs its public key.", "publicKey"))
        return None
    raw = parse_ed25519_public_key(public_key)
    if raw is None:
        errors.append(
            _invalid(
                "Not a valid Ed25519 public key (PEM, or base64 of the 32 raw bytes).",
                "publicKey",
            )
        )
        return None
    return base64.b64encode(raw).decode("ascii")


def _validate_rate_limit(
    request: NewKeyRequest, settings: Settings, errors: list[DomainError]
) -> tuple[int | None, int | None]:
    if not request.has_rate_limit:
        return None, None
    requests, per_seconds = request.rate_limit_requests, request.rate_limit_per_seconds
    ok = True
    for value, upper, name in (
        (requests, settings.max_rate_limit_requests, "requests"),
        (per_seconds, settings.max_rate_limit_per_seconds, "perSeconds"),
    ):
        if value is None or not 1 <= value <= upper:
            errors.append(_invalid(f"{name} must be between 1 and {upper}.", "rateLimit", name))
            ok = False
    return (requests, per_seconds) if ok else (None, None)


def _as_utc(value: datetime) -> datetime | None:
    """``value`` in UTC; None when it cannot be represented (e.g. year 1 at +14:00)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None


def validate_new_key(request: NewKeyRequest, settings: Settings, now: datetime) -> KeySpec:
    """Check every field, apply the policies, and return what to store.

    Raises :class:`InvalidInput` listing every problem found.
    """
    errors: list[DomainError] = []
    label = normalise_label(request.label)
    if label is None:
        errors.append(
            _invalid(
                f"Label must be 1 to {MAX_LABEL_LENGTH} characters, without control characters.",
                "label",
            )
        )
    scopes = _validate_scopes(request.scopes, errors)
    allowlist = _validate_allowlist(request.ip_allowlist, settings, errors)
    expires_at = _as_utc(request.expires_at) if request.expires_at is not None else None
    if request.expires_at is not None and expires_at is None:
        errors.append(_invalid("The expiry is not a representable date.", "expiresAt"))
    elif expires_at is not None and expires_at <= now:
        errors.append(_invalid("The expiry must be in the future.", "expiresAt"))
    public_key = _validate_public_key(request.algorithm, request.public_key, errors)
    rate_requests, rate_per_seconds = _validate_rate_limit(request, settings, errors)

    allowlist_given = bool(request.ip_allowlist)
    if Scope.WITHDRAW.value in scopes and not allowlist_given:
        errors.append(_invalid("The WITHDRAW scope needs an IP allowlist.", "ipAllowlist"))
    if errors:
        raise InvalidInput(errors)

    clamped = False
    # The cap limits how long a usable key without an allowlist lives; a canary never
    # verifies, and must keep tripping for as long as it is planted.
    if not allowlist and not request.canary:
        latest = now + timedelta(days=settings.unrestricted_key_max_days)
        if expires_at is None or expires_at > latest:
            expires_at, clamped = latest, True
    assert label is not None
    return KeySpec(
        label=label,
        scopes=scopes,
        ip_allowlist=allowlist,
        expires_at=expires_at,
        expiry_clamped=clamped,
        algorithm=request.algorithm,
        public_key_b64=public_key,
        rate_limit_requests=rate_requests,
        rate_limit_per_seconds=rate_per_seconds,
        canary=request.canary,
    )
