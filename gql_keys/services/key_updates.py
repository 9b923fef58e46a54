"""Changing a live key: creation's policy applied to the result, and whether it widens.

Pure functions, like :mod:`gql_keys.services.key_policy`: the requested change is laid
over the key's current terms and the result goes through :func:`validate_new_key`, so
every rule of creation (label, scopes, allowlist shape and width, WITHDRAW needs an
allowlist, the expiry cap without one counted from ``now``, rate-limit bounds) holds
for an updated key too. :func:`widens` then compares the result with the current terms.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.scopes import Scope, implied
from gql_keys.services.key_policy import KeyAlgorithm, KeySpec, NewKeyRequest, validate_new_key
from gql_keys.settings import Settings

MAX_OVERLAP_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class KeyUpdateRequest:
    """What the caller sent (mirrors ``UpdateApiKeyInput``); None means unchanged."""

    label: str | None = None
    scopes: Sequence[Scope] | None = None
    ip_allowlist: Sequence[str] | None = None
    expires_at: datetime | None = None
    rate_limit: tuple[int, int] | None = None  # (requests, perSeconds)


@dataclass(frozen=True, slots=True)
class KeyTerms:
    """What a key grants, as stored (see :func:`terms_of`)."""

    label: str
    algorithm: KeyAlgorithm
    public_key_b64: str | None
    scopes: tuple[str, ...]
    ip_allowlist: tuple[str, ...]
    expires_at: datetime | None
    expiry_clamped: bool
    rate_limit_requests: int | None
    rate_limit_per_seconds: int | None
    canary: bool = False


@dataclass(frozen=True, slots=True)
class PlannedUpdate:
    """The key's terms after the change, with every policy applied."""

    spec: KeySpec
    expiry_clamped: bool
    changed: bool
    widening: bool

    def fields(self) -> dict[str, Any]:
        """The columns to store."""
        spec = self.spec
        return {
            "label": spec.label,
            "scopes": list(spec.scopes),
            "ip_allowlist": list(spec.ip_allowlist),
            "expires_at": spec.expires_at,
            "expiry_clamped": self.expiry_clamped,
            "rate_limit_requests": spec.rate_limit_requests,
            "rate_limit_per_seconds": spec.rate_limit_per_seconds,
        }


def terms_of(row: Any) -> KeyTerms:
    """The terms of an ``ApiKey`` row as its owner confirmed them: a change cooling off
    (``pending_*``) counts as made, so that changes are planned and judged against it."""
    pending = row.pending_scopes is not None and row.pending_ip_allowlist is not None
    return KeyTerms(
        label=row.label,
        algorithm=KeyAlgorithm(row.algorithm),
        public_key_b64=row.public_key,
        scopes=tuple((row.pending_scopes if pending else row.scopes) or ()),
        ip_allowlist=tuple((row.pending_ip_allowlist if pending else row.ip_allowlist) or ()),
        expires_at=row.expires_at,
        expiry_clamped=bool(row.expiry_clamped),
        rate_limit_requests=row.rate_limit_requests,
        rate_limit_per_seconds=row.rate_limit_per_seconds,
        canary=bool(row.canary),
    )


def is_empty(request: KeyUpdateRequest) -> bool:
    return all(
        value is None
        for value in (
            request.label,
            request.scopes,
            request.ip_allowlist,
            request.expires_at,
            request.rate_limit,
        )
    )


def plan_update(
    current: KeyTerms, request: KeyUpdateRequest, settings: Settings, now: datetime
) -> PlannedUpdate:
    """The result of ``request`` on ``current`` at ``now``.

    Raises :class:`~gql_keys.domain_errors.InvalidInput` when the result breaks creation's policy.
    """
    rate: tuple[int | None, int | None] | None = request.rate_limit
    if rate is None and current.rate_limit_requests is not None:
        rate = (current.rate_limit_requests, current.rate_limit_per_seconds)
    merged = NewKeyRequest(
        label=request.label if request.label is not None else current.label,
        scopes=(
            list(request.scopes)
            if request.scopes is not None
            else [Scope(s) for s in current.scopes]
        ),
        ip_allowlist=(
            request.ip_allowlist if request.ip_allowlist is not None else current.ip_allowlist
        ),
        expires_at=request.expires_at if request.expires_at is not None else current.expires_at,
        algorithm=current.algorithm,
        public_key=current.public_key_b64,
        rate_limit_requests=rate[0] if rate is not None else None,
        rate_limit_per_seconds=rate[1] if rate is not None else None,
        has_rate_limit=rate is not None,
        canary=current.canary,
    )
    spec = validate_new_key(merged, settings, now)
    clamped = spec.expiry_clamped or (
        spec.expires_at == current.expires_at and current.expiry_clamped
    )
    changed = (
        spec.label != current.label
        or tuple(spec.scopes) != current.scopes
        or tuple(spec.ip_allowlist) != current.ip_allowlist
        or spec.expires_at != current.expires_at
        or (spec.rate_limit_requests, spec.rate_limit_per_seconds)
        != (current.rate_limit_requests, current.rate_limit_per_seconds)
    )
    return PlannedUpdate(
        spec=spec,
        expiry_clamped=clamped,
        changed=changed,
        widening=changed and widens(current, spec, settings),
    )


def _networks(entries: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def allowlist_widens(old: Sequence[str], new: Sequence[str]) -> bool:
    """Any address the new allowlist lets in that the old one did not."""
    if not old:
        return False  # no restriction before: any allowlist narrows
    if not new:
        return True  # the restriction removed
    old_networks = _networks(old)
    return any(
        not any(
            n.version == o.version and n.subnet_of(o)  # type: ignore[arg-type]
            for o in old_networks
        )
        for n in _networks(new)
    )


def _rate_widens(old: tuple[int, int], new: tuple[int, int]) -> bool:
    """A higher burst (requests per window) or a higher sustained rate."""
    (old_requests, old_per), (new_requests, new_per) = old, new
    return new_requests > old_requests or new_requests * old_per > old_requests * new_per


def widens(current: KeyTerms, spec: KeySpec, settings: Settings) -> bool:
    """Whether ``spec`` grants anything ``current`` did not (a label never does)."""
    if not implied(spec.scopes) <= implied(current.scopes):
        return True
    if allowlist_widens(current.ip_allowlist, spec.ip_allowlist):
        return True
    if current.expires_at is not None and (
        spec.expires_at is None or spec.expires_at > current.expires_at
    ):
        return True
    default = (settings.default_rate_limit_requests, settings.default_rate_limit_per_seconds)
    old_rate = (
        (current.rate_limit_requests, current.rate_limit_per_seconds)
        if current.rate_limit_requests is not None and current.rate_limit_per_seconds is not None
        else default
    )
    new_rate = (
        (spec.rate_limit_requests, spec.rate_limit_per_seconds)
        if spec.rate_limit_requests is not None and spec.rate_limit_per_seconds is not None
        else default
    )
    return _rate_widens(old_rate, new_rate)


def update_payload(request: KeyUpdateRequest, planned: PlannedUpdate) -> dict[str, Any]:
    """What an UPDATE_KEY challenge stores: the fields given, as validated.

    The requested expiry is kept as asked (not as capped), so the cap is counted again
    from the moment the change is confirmed.
    """
    spec = planned.spec
    payload: dict[str, Any] = {}
    if request.label is not None:
        payload["label"] = spec.label
    if request.scopes is not None:
        payload["scopes"] = list(spec.scopes)
    if request.ip_allowlist is not None:
        payload["ip_allowlist"] = list(spec.ip_allowlist)
    if request.expires_at is not None:
        asked = request.expires_at
        asked = asked.astimezone(UTC) if asked.tzinfo is not None else asked.replace(tzinfo=UTC)
        payload["expires_at"] = asked.isoformat()
    if request.rate_limit is not None:
        payload["rate_limit"] = [spec.rate_limit_requests, spec.rate_limit_per_seconds]
    return payload


def request_from_payload(payload: Mapping[str, Any]) -> KeyUpdateRequest:
    """The stored change of an UPDATE_KEY challenge, to be planned again at confirmation."""
    rate = payload.get("rate_limit")
    expires = payload.get("expires_at")
    scopes = payload.get("scopes")
    allowlist = payload.get("ip_allowlist")
    return KeyUpdateRequest(
        label=payload.get("label"),
        scopes=[Scope(s) for s in scopes] if scopes is not None else None,
        ip_allowlist=list(allowlist) if allowlist is not None else None,
        expires_at=datetime.fromisoformat(expires) if expires is not None else None,
        rate_limit=(int(rate[0]), int(rate[1])) if rate is not None else None,
    )


def validate_overlap(overlap_seconds: int) -> int:
    if not 0 <= overlap_seconds <= MAX_OVERLAP_SECONDS:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"overlapSeconds must be between 0 and {MAX_OVERLAP_SECONDS}.",
            ("input", "overlapSeconds"),
        )
    return overlap_seconds
