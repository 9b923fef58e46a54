"""Deciding whether one signed partner request may pass, and recording the decision.

The checks run in the contract's order, each with its code: key exists, not deleted,
not expired, not a canary, timestamp in window, signature valid, account not locked,
address allowed, scope granted, not quarantined (unless a read or an order cancellation),
not a replay, rate limit (the key's own and its account's pool). The signature is computed
whatever the outcome (with a per-process dummy secret for unknown keys and canaries) so an
unknown key costs the same as a known one. Hostile input never raises: it is a denial with
a code. The answer waits until the decision's usage-log row is committed; if it cannot be,
:class:`ServiceUnavailable` propagates.

A canary is answered like an unknown key by every door that a partner sees; only the
usage row, ``verifyApiRequest`` and the owner's events name it ``CANARY_TRIPPED``, and the
owner is told (:mod:`gql_keys.services.canaries`) after the row is committed, off the
request's path, so the answer takes as long as an unknown key's.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from gql_keys.domain_errors import DomainError, ErrorCode, ServiceUnavailable
from gql_keys.key_cache import KeyRecord
from gql_keys.limits.base import RateDecision, ReplayShare, ReplayShareFull
from gql_keys.principals import ApiKeyPrincipal
from gql_keys.runtime import Runtime
from gql_keys.scopes import Scope
from gql_keys.security.addresses import throttle_address
from gql_keys.security.request_target import (
    READ_METHODS,
    changes_state,
    is_plain_path,
    method_token,
)
from gql_keys.security.signing import (
    DUMMY_SECRET,
    is_sha512_hex,
    parse_timestamp,
    replay_key,
    signing_payload,
    timestamp_in_window,
    verify_ed25519,
    verify_hmac_sha512,
)
from gql_keys.services import account_pool, canaries
from gql_keys.settings import Settings
from gql_keys.usage.writer import UsageEntry

PARTNER_GRAPHQL_PATH = "/graphql"


class VerificationCode(StrEnum):
    VALID = "VALID"
    KEY_NOT_FOUND = "KEY_NOT_FOUND"
    KEY_EXPIRED = "KEY_EXPIRED"
    KEY_DELETED = "KEY_DELETED"
    IP_NOT_ALLOWED = "IP_NOT_ALLOWED"
    SCOPE_NOT_GRANTED = "SCOPE_NOT_GRANTED"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    TIMESTAMP_OUT_OF_WINDOW = "TIMESTAMP_OUT_OF_WINDOW"
    REPLAYED = "REPLAYED"
    RATE_LIMITED = "RATE_LIMITED"
    ACCOUNT_LOCKED = "ACCOUNT_LOCKED"
    KEY_QUARANTINED = "KEY_QUARANTINED"
    CANARY_TRIPPED = "CANARY_TRIPPED"


# Slots, not frozen: built on every verification, where a frozen dataclass pays an
# object.__setattr__ per field.
@dataclass(slots=True)
class SignedRequest:
    """What a gateway saw on one partner request (or what /graphql itself received)."""

    key: str
    signature: str
    timestamp: str
    method: str
    path: str
    query: str
    body_sha512: str
    client_ip: str
    required_scope: Scope | None
    # False when the method or path is outside the request-line grammar (see
    # request_line_problem): decided like a scope no key holds. /authz refuses such a
    # request before any decision instead.
    plain: bool = True


# Slots, not frozen: built on every verification, where a frozen dataclass pays an
# object.__setattr__ per field.
@dataclass(slots=True)
class Decision:
    allowed: bool
    code: VerificationCode
    record: KeyRecord | None
    rate: RateDecision | None  # only when the key's own quota was counted
    retry_at: float | None = None  # RATE_LIMITED: when to try again (key quota or throttle)


def request_line_problem(method: str, path: str) -> DomainError | None:
    """Why a reported method or path is outside the request-line grammar
    (:mod:`gql_keys.security.request_target`), as an ``INVALID_INPUT`` naming the field;
    None when both are plain. An upstream could serve such a request as another one than
    the gateway chose the scope for, so no key is granted it (``SCOPE_NOT_GRANTED``)."""
    if method_token(method) is None:
        return DomainError(
            ErrorCode.INVALID_INPUT,
            "method must be an HTTP method of 1 to 16 letters; no key is granted this request.",
            ("input", "method"),
        )
    if not is_plain_path(path):
        return DomainError(
            ErrorCode.INVALID_INPUT,
            "path must be a plain request path (no ';', '\\', whitespace, control or "
            "non-ASCII characters, double or %u encoding, '.' or '..' segments); no key is "
            "granted this request.",
            ("input", "path"),
        )
    return None


# Gateways report the same few client addresses over and over; parsing one is a pure
# function (errors are raised, never cached) and its result is immutable. Only short
# texts are cached, so the cache stays small whatever the input carries.
_cached_ip_address = functools.lru_cache(maxsize=1024)(ipaddress.ip_address)


def _ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return _cached_ip_address(text) if len(text) <= 64 else ipaddress.ip_address(text)


def _address_allowed(record: KeyRecord, client_ip: str) -> bool:
    """Whether the key may be used from ``client_ip``; an unparseable address never may."""
    try:
        address = _ip_address(client_ip)
    except ValueError:
        return False
    if not record.networks:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(
        address.version == network.version and address in network for network in record.networks
    )


def _signature_valid(record: KeyRecord | None, payload: bytes | None, signature: str) -> bool:
    """Check the signature; with no usable key, do the same HMAC work and say no."""
    message = payload if payload is not None else b""
    if record is None or record.deleted or record.canary:
        verify_hmac_sha512(DUMMY_SECRET, message, signature)
        return False
    if record.algorithm == "ED25519":
        if record.public_key is None or payload is None:
            return False
        return verify_ed25519(record.public_key, payload, signature)
    secret = record.secret
    if secret is None or payload is None:
        verify_hmac_sha512(DUMMY_SECRET, message, signature)
        return False
    return verify_hmac_sha512(secret, payload, signature)


def _previous_signature_valid(
    record: KeyRecord, payload: bytes, signature: str, now: float
) -> bool:
    """Whether the key's rolled-away secret or public key signed this, within its overlap."""
    if record.previous_until is None or record.previous_until <= now:
        return False
    if record.previous_public_key is not None:
        return verify_ed25519(record.previous_public_key, payload, signature)
    if record.previous_secret is not None:
        return verify_hmac_sha512(record.previous_secret, payload, signature)
    return False


def _quarantine_allows(rt: Runtime, request: SignedRequest) -> bool:
    """What a quarantined key may still do (its scope already checked): read, or what the
    scope rules mark ``quarantine_allows`` (built in: cancel orders) under that scope."""
    method = request.method.upper()
    required = request.required_scope
    if required is None:
        return False
    if method in READ_METHODS and required.value.endswith("_READ"):
        return True
    rule = rt.scope_rules.rule_for(method, request.path)
    return rule is not None and rule.quarantine_allows and rule.scope is required


def replay_share(record: KeyRecord, settings: Settings) -> ReplayShare:
    """How many live replay fingerprints one key may hold: what its rate limit lets it
    have accepted while a fingerprint lives (the fixed windows a lifetime of twice the
    signature window plus a second can touch), at most ``replay_max_live_per_key``."""
    lifetime = 2 * settings.signature_window_seconds + 1.0
    windows = math.ceil(lifetime / max(1, record.rate_limit_per_seconds)) + 1
    max_live = min(settings.replay_max_live_per_key, record.rate_limit_requests * windows)
    return ReplayShare(f"key:{record.id}", max(1, max_live))


async def decide(
    rt: Runtime, request: SignedRequest, now: float
) -> tuple[VerificationCode, KeyRecord | None, RateDecision | None, bool]:
    """The decision alone (nothing recorded), taken at ``now`` (Unix seconds); the last
    item says whether the signature matched the key's previous (rolled-away) secret."""
    record = await rt.key_cache.get(request.key)
    body_hash = request.body_sha512.lower()
    payload: bytes | None
    try:
        payload = signing_payload(
            request.method, request.path, request.query, body_hash, request.timestamp
        )
    except ValueError:
        payload = None
    payload_ok = payload is not None and is_sha512_hex(body_hash)
    signature_ok = _signature_valid(record, payload, request.signature) and payload_ok
    previous = False
    if not signature_ok and payload_ok and record is not None and payload is not None:
        previous = signature_ok = _previous_signature_valid(record, payload, request.signature, now)

    if record is None:
        return VerificationCode.KEY_NOT_FOUND, None, None, False
    if record.deleted:
        return VerificationCode.KEY_DELETED, record, None, False
    if record.expires_at is not None and record.expires_at <= now:
        return VerificationCode.KEY_EXPIRED, record, None, False
    if record.canary:
        return VerificationCode.CANARY_TRIPPED, record, None, False
    ts = parse_timestamp(request.timestamp)
    if ts is None or not timestamp_in_window(ts, now, rt.settings.signature_window_seconds):
        return VerificationCode.TIMESTAMP_OUT_OF_WINDOW, record, None, False
    if not signature_ok or payload is None:
        return VerificationCode.INVALID_SIGNATURE, record, None, False
    if record.account_locked:  # the one place a (sub-)account's lock is checked
        return VerificationCode.ACCOUNT_LOCKED, record, None, previous
    if not _address_allowed(record, request.client_ip):
        return VerificationCode.IP_NOT_ALLOWED, record, None, previous
    if not request.plain or (
        request.required_scope is not None and request.required_scope not in record.scopes
    ):
        return VerificationCode.SCOPE_NOT_GRANTED, record, None, previous
    if record.quarantined and not _quarantine_allows(rt, request):
        return VerificationCode.KEY_QUARANTINED, record, None, previous
    fingerprint: str | None = None
    share: ReplayShare | None = None
    if changes_state(request.method.upper()):
        # Remember the request until its timestamp leaves the window on either side.
        ttl = max(1.0, ts + rt.settings.signature_window_seconds - now + 1.0)
        fingerprint = replay_key(record.key, payload)
        share = replay_share(record, rt.settings)
        try:
            if not await rt.replay_cache.first_seen(fingerprint, ttl, now, share=share):
                return VerificationCode.REPLAYED, record, None, previous
        except ReplayShareFull as full:
            # This key's own share of the replay cache is full: its problem alone.
            rt.metrics.replay_share_full.inc()
            refused = RateDecision(False, record.rate_limit_requests, 0, full.reset_at)
            return VerificationCode.RATE_LIMITED, record, refused, previous
    rate = await account_pool.hit(rt, record, now)
    if not rate.allowed:
        # Only an accepted signature counts as used: the partner may retry this one.
        if fingerprint is not None:
            await rt.replay_cache.forget(fingerprint, share=share)
        return VerificationCode.RATE_LIMITED, record, rate, previous
    return VerificationCode.VALID, record, rate, previous


# Failures before a valid signature: anyone who knows a key's identifier can cause them.
# A canary's use counts too, as an unknown key's would.
UNSIGNED_FAILURES = frozenset(
    {
        VerificationCode.KEY_NOT_FOUND,
        VerificationCode.KEY_DELETED,
        VerificationCode.KEY_EXPIRED,
        VerificationCode.TIMESTAMP_OUT_OF_WINDOW,
        VerificationCode.INVALID_SIGNATURE,
        VerificationCode.CANARY_TRIPPED,
    }
)
UNSIGNED_WINDOW_SECONDS = 60


async def _throttle_unsigned(
    rt: Runtime, client_ip: str, now: float
) -> tuple[RateDecision, bool] | None:
    """Count one unsigned failure of ``client_ip``; None while it is within
    ``unsigned_failures_per_minute``. Past it: the throttle's decision (for
    ``Retry-After``) and whether this is the minute's one summary row to write."""
    limit = rt.settings.unsigned_failures_per_minute
    where = throttle_address(client_ip, rt.settings.throttle_ipv6_prefix)
    counted = await rt.rate_limiter.hit(f"unsigned:{where}", limit, UNSIGNED_WINDOW_SECONDS, now)
    if counted.allowed:
        return None
    summary = await rt.rate_limiter.hit(
        f"unsigned-summary:{where}", 1, UNSIGNED_WINDOW_SECONDS, now
    )
    return counted, summary.allowed


async def verify(rt: Runtime, request: SignedRequest) -> Decision:
    """Decide, record the decision durably, and return it.

    Failures before a valid signature are throttled per client address: past
    ``unsigned_failures_per_minute`` they become ``RATE_LIMITED`` (the key's own quota is
    not touched) and only the first of them in that minute is logged, as a summary row.
    A canary's decision carries no record (its owner hears of it, throttled or not).
    Raises :class:`ServiceUnavailable` when the usage log cannot be written.
    """
    started = time.perf_counter()
    now = rt.clock.time()
    try:
        code, record, rate, previous = await decide(rt, request, now)
    except ServiceUnavailable:  # e.g. the replay cache is full: refuse, never guess
        rt.metrics.verifications.inc("SERVICE_UNAVAILABLE")
        raise
    retry_at = rate.reset_at if rate is not None and not rate.allowed else None
    metrics = rt.metrics
    canary = record if code is VerificationCode.CANARY_TRIPPED else None
    if code in UNSIGNED_FAILURES:
        throttled = await _throttle_unsigned(rt, request.client_ip, now)
        if throttled is not None:
            # The address's throttle answered, not the key's quota: no rate to report.
            throttle, write_summary = throttled
            code, rate, retry_at = VerificationCode.RATE_LIMITED, None, throttle.reset_at
            metrics.unsigned_failures_throttled.inc()
            if not write_summary:
                metrics.verifications.inc(code.value)
                if canary is not None:
                    canaries.tripped_later(
                        rt, canary, request.client_ip, request.method, request.path, now
                    )
                    record = None
                return Decision(False, code, record, None, retry_at)
    allowed = code is VerificationCode.VALID
    code_text = code.value
    entry = UsageEntry(
        api_key_id=record.id if record is not None else None,
        owner_id=record.user_id if record is not None else None,
        key=request.key,
        occurred_at=datetime.fromtimestamp(now, UTC),
        allowed=allowed,
        code=code_text,
        client_ip=request.client_ip,
        method=request.method.upper(),
        path=request.path,
        required_scope=request.required_scope.value if request.required_scope else None,
        signed_with_previous_secret=previous,
        sub_account_id=record.sub_account_id if record is not None else None,
    )
    try:
        await rt.usage_writer.record_nowait(entry)
    except ServiceUnavailable:
        metrics.verifications.inc("SERVICE_UNAVAILABLE")
        raise
    metrics.verifications.inc(code_text)
    metrics.verification_seconds.observe(time.perf_counter() - started)
    if canary is not None:
        canaries.tripped_later(rt, canary, request.client_ip, request.method, request.path, now)
        record = None
    return Decision(allowed, code, record, rate, retry_at)


async def authenticate_signed_request(
    rt: Runtime,
    *,
    key: str,
    signature: str,
    timestamp: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    client_ip: str,
) -> tuple[ApiKeyPrincipal | None, VerificationCode]:
    """The principal of a signed request to ``/graphql`` (None when it does not verify),
    with the decision's code.

    No scope is required beyond a valid key: what a partner may read through GraphQL
    (its own key and its own usage) is enforced by the resolvers. The decision is logged
    like any other. Raises :class:`ServiceUnavailable` when it cannot be logged.
    """
    decision = await verify(
        rt,
        SignedRequest(
            key=key,
            signature=signature,
            timestamp=timestamp,
            method=method,
            path=path,
            query=query,
            body_sha512=hashlib.sha512(body).hexdigest(),
            client_ip=client_ip,
            required_scope=None,
        ),
    )
    rt.metrics.partner_requests.inc(decision.code.value)
    if not decision.allowed or decision.record is None:
        return None, decision.code
    record = decision.record
    return ApiKeyPrincipal(
        api_key_id=record.id,
        user_id=record.user_id,
        key=record.key,
        sub_account_id=record.sub_account_id,
    ), decision.code
