"""The lookup hashes of HMAC secrets: what a key stores, finding keys by a reported
secret, and filling the hashes of keys stored before they existed.

A row's ``secret_lookup`` (and ``previous_secret_lookup`` while a rolled-away secret is
in its overlap) is :class:`~gql_keys.security.secret_lookup.SecretIndex`'s keyed hash of
the secret. A reported secret is hashed under every known master key and looked up in
one indexed query; the match is then confirmed by opening that one sealed secret, so a
wrong hash could never quarantine a key whose secret did not leak.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from gql_keys.models import ApiKey
from gql_keys.repositories import keys as repo
from gql_keys.runtime import Runtime
from gql_keys.security.keymaterial import secret_aad, secret_checksum_valid
from gql_keys.security.secretbox import SecretBoxError

log = logging.getLogger("gql_keys.secret_lookups")

FILL_BATCH = 500


def lookup_fields(rt: Runtime, secret: str | None, previous_lookup: str | None) -> dict[str, Any]:
    """The lookup columns after installing ``secret`` (None for ED25519 keys), with the
    outgoing secret's hash kept as ``previous_lookup`` (None when it stops at once)."""
    return {
        "secret_lookup": rt.secret_index.digest(secret) if secret is not None else None,
        "previous_secret_lookup": previous_lookup,
    }


@dataclass(frozen=True, slots=True)
class Match:
    row: ApiKey
    previous: bool  # the secret is the key's rolled-away one, still in its overlap


def _opens_to(rt: Runtime, row: ApiKey, sealed: str | None, secret: str) -> bool:
    if sealed is None:
        return False
    try:
        stored = rt.secretbox.open(sealed, aad=secret_aad(row.key))
    except SecretBoxError:
        return False
    return hmac.compare_digest(stored, secret.encode())


async def live_keys_with_secrets(rt: Runtime, secrets: list[str]) -> dict[str, Match]:
    """``secret -> the live key that holds it`` for those of ``secrets`` that are one."""
    shaped = [s for s in dict.fromkeys(secrets) if secret_checksum_valid(s)]
    by_lookup: dict[str, str] = {}
    for secret in shaped:
        for lookup in rt.secret_index.candidates(secret):
            by_lookup[lookup] = secret
    found: dict[str, Match] = {}
    now = rt.clock.now()
    lookups = list(by_lookup)
    for start in range(0, len(lookups), 200):
        for row in await repo.live_keys_by_secret_lookup(lookups[start : start + 200], now):
            current = by_lookup.get(row.secret_lookup or "")
            if current is not None and _opens_to(rt, row, row.secret_sealed, current):
                found[current] = Match(row, previous=False)
            previous = by_lookup.get(row.previous_secret_lookup or "")
            if previous is not None and _opens_to(rt, row, row.previous_secret_sealed, previous):
                found.setdefault(previous, Match(row, previous=True))
    return found


async def fill_missing(rt: Runtime) -> int:
    """Hash the secrets of keys stored without a lookup (before migration 0009); how many
    keys this call filled. Idempotent, and safe with several workers at once: each writes
    the same values, and only while the key's secret is still the one it read."""
    now = rt.clock.now()
    filled = 0
    after_id = 0
    while True:
        rows = await repo.keys_missing_secret_lookups(now, after_id, FILL_BATCH)
        for row in rows:
            fields: dict[str, str] = {}
            for sealed, column in (
                (row.secret_sealed, "secret_lookup"),
                (row.previous_secret_sealed, "previous_secret_lookup"),
            ):
                if sealed is None or getattr(row, column) is not None:
                    continue
                try:
                    secret = rt.secretbox.open(sealed, aad=secret_aad(row.key)).decode()
                except (SecretBoxError, UnicodeDecodeError):
                    log.error("api key %s: sealed secret cannot be opened; not indexed", row.id)
                    continue
                fields[column] = rt.secret_index.digest(secret)
            if fields and await repo.set_secret_lookups(row.id, fields, row.secret_sealed):
                filled += 1
        if len(rows) < FILL_BATCH:
            return filled
        after_id = rows[-1].id


RETRY_SECONDS = 10.0


async def fill_at_start(rt: Runtime) -> asyncio.Task[None] | None:
    """Fill missing lookups before serving; if the database cannot be used now, keep
    trying in the background (returned, for the caller to cancel at shutdown)."""
    try:
        await fill_missing(rt)
    except Exception as exc:
        log.warning(
            "secret lookups not filled at start-up (%s); retrying every %.0f s",
            type(exc).__name__,
            RETRY_SECONDS,
        )
        return asyncio.create_task(_fill_until_done(rt), name="secret-lookups")
    return None


async def _fill_until_done(rt: Runtime) -> None:
    while True:
        await asyncio.sleep(RETRY_SECONDS)
        try:
            await fill_missing(rt)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("secret lookups still not filled (%s)", type(exc).__name__)
            continue
        log.info("secret lookups filled")
        return
