"""In-process cache of API-key records for the verification hot path.

A known key is answered from memory: no database read per request. Records live for
``settings.key_cache_ttl_seconds`` (at most a few seconds) so a key deleted or changed
by another worker stops verifying within that time; a delete made in this process calls
:meth:`KeyCache.invalidate` and takes effect at once. A sub-account's lock travels the
same way: the record carries it, and locking invalidates each of its keys. Unknown keys
are cached too (shorter, bounded) so a flood of made-up keys does not reach the database
per request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gql_keys.metrics import Metrics
from gql_keys.principals import ServicePrincipal, ServiceRole
from gql_keys.repositories.keys import key_by_public_id
from gql_keys.repositories.service_tokens import live_service_token_by_digest
from gql_keys.repositories.sub_accounts import locked as sub_account_locked
from gql_keys.scopes import Scope, implied
from gql_keys.security.keymaterial import looks_like_public_key_id, secret_aad
from gql_keys.security.secretbox import SecretBox, SecretBoxError
from gql_keys.settings import IPNetwork, Settings

_T = TypeVar("_T")

log = logging.getLogger("gql_keys.key_cache")

NEGATIVE_TTL_SECONDS = 1.0
MAX_NEGATIVE_ENTRIES = 10_000
MAX_ENTRIES = 200_000


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What verification needs about one key, parsed once."""

    id: int
    user_id: int
    key: str
    label: str
    algorithm: str  # HMAC_SHA512 | ED25519
    scopes: frozenset[Scope]  # granted scopes, WRITE already expanded to READ
    networks: tuple[IPNetwork, ...]  # empty: any address
    expires_at: float | None  # Unix seconds
    deleted: bool
    rate_limit_requests: int
    rate_limit_per_seconds: int
    secret: bytes | None = field(repr=False)  # HMAC: UTF-8 bytes of the secret
    public_key: bytes | None  # ED25519: the raw 32 bytes
    row: Any  # the ApiKey row it was built from, for the GraphQL ``apiKey`` field
    # After a roll: the rolled-away secret or public key, verifying until previous_until.
    previous_secret: bytes | None = field(default=None, repr=False)
    previous_public_key: bytes | None = None
    previous_until: float | None = None  # Unix seconds
    # The sub-account the key belongs to (None: the master's own), and whether that
    # account is locked (its keys answer ACCOUNT_LOCKED).
    sub_account_id: int | None = None
    account_locked: bool = False
    # Only reads and order cancellations verify (see scope_rules.quarantine_allows).
    quarantined: bool = False
    # A decoy: never verifies, holds no key material, answered like an unknown key.
    canary: bool = False


def _key_material(
    row: Any, sealed: str | None, public_b64: str | None, secretbox: SecretBox
) -> tuple[bytes | None, bytes | None]:
    """(HMAC secret, ED25519 public key) of a row's current or previous material."""
    if row.algorithm == "HMAC_SHA512" and sealed:
        try:
            return secretbox.open(sealed, aad=secret_aad(row.key)), None
        except SecretBoxError:
            log.error("api key %s: sealed secret cannot be opened", row.id)
    elif row.algorithm == "ED25519" and public_b64:
        try:
            return None, base64.b64decode(public_b64, validate=True)
        except (binascii.Error, ValueError):
            log.error("api key %s: stored public key is not base64", row.id)
    return None, None


def build_record(
    row: Any, settings: Settings, secretbox: SecretBox, *, account_locked: bool = False
) -> KeyRecord | None:
    """A record from an ApiKey row; None for a pending key or unusable key material."""
    if row.state != "active":
        return None
    if row.canary:
        return _canary_record(row)
    secret, public_key = _key_material(row, row.secret_sealed, row.public_key, secretbox)
    previous_secret: bytes | None = None
    previous_public_key: bytes | None = None
    previous_until: float | None = None
    if row.previous_secret_expires_at is not None:
        previous_until = row.previous_secret_expires_at.timestamp()
        previous_secret, previous_public_key = _key_material(
            row, row.previous_secret_sealed, row.previous_public_key, secretbox
        )
    networks: list[IPNetwork] = []
    for entry in row.ip_allowlist or ():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            log.error("api key %s: allowlist entry %r is not a network", row.id, entry)
    try:
        scopes = implied(row.scopes or ())
    except ValueError:
        scopes = frozenset(s for s in Scope if s.value in set(row.scopes or ()))
    return KeyRecord(
        id=row.id,
        user_id=row.user_id,
        key=row.key,
        label=row.label,
        algorithm=row.algorithm,
        scopes=scopes,
        networks=tuple(networks),
        expires_at=row.expires_at.timestamp() if row.expires_at is not None else None,
        deleted=row.deleted_at is not None,
        rate_limit_requests=row.rate_limit_requests or settings.default_rate_limit_requests,
        rate_limit_per_seconds=row.rate_limit_per_seconds
        or settings.default_rate_limit_per_seconds,
        secret=secret,
        public_key=public_key,
        row=row,
        previous_secret=previous_secret,
        previous_public_key=previous_public_key,
        previous_until=previous_until,
        sub_account_id=row.sub_account_id,
        account_locked=account_locked,
        quarantined=row.quarantined_at is not None,
    )


def _canary_record(row: Any) -> KeyRecord:
    """A canary's record: who to tell when it is used, and nothing to verify with."""
    return KeyRecord(
        id=row.id,
        user_id=row.user_id,
        key=row.key,
        label=row.label,
        algorithm=row.algorithm,
        scopes=frozenset(),
        networks=(),
        expires_at=row.expires_at.timestamp() if row.expires_at is not None else None,
        deleted=row.deleted_at is not None,
        rate_limit_requests=1,
        rate_limit_per_seconds=1,
        secret=None,
        public_key=None,
        row=row,
        sub_account_id=row.sub_account_id,
        canary=True,
    )


async def _load_once(
    loading: dict[str, asyncio.Future[_T]], key: str, load: Callable[[], Awaitable[_T]]
) -> tuple[_T, bool]:
    """``load()`` for ``key``, its future in ``loading`` meanwhile so that concurrent
    callers for the same key wait for it (``asyncio.shield``: a waiter's cancellation
    does not cancel the load) instead of loading again. Also whether the caller should
    cache the value: False for a waiter (the loader does), and for a load whose entry was
    removed from ``loading`` while it ran (an invalidation)."""
    pending = loading.get(key)
    if pending is not None:
        return await asyncio.shield(pending), False
    future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
    loading[key] = future
    try:
        value = await load()
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # waiters re-raise; do not warn when there are none
        raise
    finally:
        current = loading.get(key) is future
        if current:
            del loading[key]
    future.set_result(value)
    return value, current


class KeyCache:
    """``key -> (record or None, valid_until)`` with single-flight loading."""

    def __init__(
        self,
        settings: Settings,
        secretbox: SecretBox,
        time: Callable[[], float],
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.secretbox = secretbox
        self.time = time
        self.ttl = min(settings.key_cache_ttl_seconds, 5.0)
        self.negative_ttl = min(NEGATIVE_TTL_SECONDS, self.ttl)
        self._records: dict[str, tuple[KeyRecord, float]] = {}
        self._missing: dict[str, float] = {}
        # Loads in flight, by key. invalidate() removes a key's load: from then on it is
        # stale, must not store what it read, and nobody joins it any more.
        self._loading: dict[str, asyncio.Future[KeyRecord | None]] = {}

    async def get(self, key: str) -> KeyRecord | None:
        """The record of ``key``; None when no usable key has that identifier."""
        now = self.time()
        cached = self._records.get(key)
        if cached is not None and cached[1] > now:
            self.metrics.key_cache_hits.inc()
            return cached[0]
        missing_until = self._missing.get(key)
        if missing_until is not None and missing_until > now:
            self.metrics.key_cache_hits.inc()
            return None
        if not looks_like_public_key_id(key):
            return None
        return await self._load(key)

    async def _load(self, key: str) -> KeyRecord | None:
        record, keep = await _load_once(self._loading, key, lambda: self._read(key))
        if keep:
            self._store(key, record)
        return record

    async def _read(self, key: str) -> KeyRecord | None:
        self.metrics.key_cache_misses.inc()
        row = await key_by_public_id(key)
        if row is None:
            return None
        locked = row.sub_account_id is not None and await sub_account_locked(row.sub_account_id)
        return build_record(row, self.settings, self.secretbox, account_locked=locked)

    def _store(self, key: str, record: KeyRecord | None) -> None:
        now = self.time()
        if record is None:
            if len(self._missing) >= MAX_NEGATIVE_ENTRIES:
                self._evict(self._missing, now)
            self._missing[key] = now + self.negative_ttl
            self._records.pop(key, None)
            return
        if len(self._records) >= MAX_ENTRIES:
            self._evict(self._records, now)
        self._records[key] = (record, now + self.ttl)
        self._missing.pop(key, None)

    @staticmethod
    def _evict(entries: dict[str, Any], now: float) -> None:
        """Drop expired entries; if none, the oldest half (insertion order)."""
        expired = [k for k, v in entries.items() if (v[1] if isinstance(v, tuple) else v) <= now]
        if not expired:
            expired = list(entries)[: len(entries) // 2 + 1]
        for k in expired:
            del entries[k]

    async def invalidate(self, key: str) -> None:
        """Forget ``key`` now (after a local delete or change commits)."""
        self._records.pop(key, None)
        self._missing.pop(key, None)
        # A later get() starts a fresh load instead of joining a pre-change one.
        self._loading.pop(key, None)

    def clear(self) -> None:
        self._records.clear()
        self._missing.clear()

    def __len__(self) -> int:
        return len(self._records)


class ServiceTokenCache:
    """Service-token digest -> principal, for ``settings.key_cache_ttl_seconds``.

    A gateway authenticates every ``verifyApiRequest`` with its token: this keeps that
    off the database too. A revoked token stops working within the TTL (revocation
    runs in another process, ``gql-keys service-token revoke``). Unknown digests are
    cached briefly and in bounded number.
    """

    def __init__(self, settings: Settings, time: Callable[[], float]) -> None:
        self.time = time
        self.ttl = min(settings.key_cache_ttl_seconds, 5.0)
        self.negative_ttl = min(NEGATIVE_TTL_SECONDS, self.ttl)
        self._entries: dict[str, tuple[ServicePrincipal | None, float]] = {}
        self._loading: dict[str, asyncio.Future[ServicePrincipal | None]] = {}

    async def get(self, digest: str) -> ServicePrincipal | None:
        now = self.time()
        cached = self._entries.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        # One read per digest at a time: when the entry expires under load, the
        # gateway's concurrent requests wait for that read instead of each making one.
        principal, keep = await _load_once(self._loading, digest, lambda: self._read(digest))
        if keep:
            if len(self._entries) >= MAX_NEGATIVE_ENTRIES:
                KeyCache._evict(self._entries, now)
            ttl = self.ttl if principal else self.negative_ttl
            self._entries[digest] = (principal, now + ttl)
        return principal

    @staticmethod
    async def _read(digest: str) -> ServicePrincipal | None:
        row = await live_service_token_by_digest(digest)
        if row is None:
            return None
        return ServicePrincipal(token_id=row.id, name=row.name, role=ServiceRole(row.role))

    def clear(self) -> None:
        self._entries.clear()
