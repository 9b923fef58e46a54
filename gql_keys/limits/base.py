"""The rate-limiter and replay-cache protocols the verification hot path depends on.

Implementations must be safe under concurrency within one event loop (the in-memory
ones) or across processes (a shared store such as Redis). Times are Unix seconds from
``rt.clock.time()`` so tests can move the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


# Slots, not frozen: built on every verification, where a frozen dataclass pays an
# object.__setattr__ per field.
@dataclass(slots=True)
class RateDecision:
    """The outcome of one counted request against a fixed window."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # Unix seconds when the current window ends


# Slots, not frozen: built on every verification, where a frozen dataclass pays an
# object.__setattr__ per field.
@dataclass(slots=True)
class Pool:
    """A second quota one request also counts against: the window every key of one
    account shares, so more keys do not buy more requests."""

    bucket: str
    limit: int
    per_seconds: int


def tighter(own: RateDecision, pool: RateDecision) -> RateDecision:
    """What to report of two quotas: a refusing one (the later to reset when both
    refuse), else the one with fewer requests left (the key's own on a tie)."""
    if not own.allowed:
        if not pool.allowed and pool.reset_at > own.reset_at:
            return pool
        return own
    if not pool.allowed or pool.remaining < own.remaining:
        return pool
    return own


class RateLimiter(Protocol):
    async def hit(self, bucket: str, limit: int, per_seconds: int, now: float) -> RateDecision:
        """Count one request in ``bucket``; refuse it (without counting) when the window is full.

        Windows are fixed and aligned to multiples of ``per_seconds`` since the epoch, so
        every worker sharing a store agrees on them.
        """
        ...

    async def hit_pooled(
        self, bucket: str, limit: int, per_seconds: int, pool: Pool, now: float
    ) -> RateDecision:
        """Count one request in ``bucket`` and in ``pool`` at once, or in neither: it is
        refused when either window is full. Reports the :func:`tighter` of the two."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


# Slots, not frozen: built on every state-changing verification, where a frozen
# dataclass pays an object.__setattr__ per field.
@dataclass(slots=True)
class ReplayShare:
    """One owner's (an API key's) bound on the live fingerprints it may hold, so one
    busy owner fills its own share and never the space every other owner needs."""

    owner: str
    max_live: int


class ReplayShareFull(Exception):
    """The owner already holds ``max_live`` live fingerprints: refuse this one request
    (the owner's problem alone); a slot is free again by ``reset_at`` (Unix seconds)."""

    def __init__(self, reset_at: float) -> None:
        super().__init__("this key holds as many live replay fingerprints as it may")
        self.reset_at = reset_at


class ReplayCache(Protocol):
    async def first_seen(
        self,
        fingerprint: str,
        ttl_seconds: float,
        now: float,
        *,
        share: ReplayShare | None = None,
    ) -> bool:
        """Remember ``fingerprint`` for ``ttl_seconds``; True only the first time it is seen.

        Must be atomic: of two concurrent calls with one fingerprint, exactly one gets True.
        A fingerprint already held is a replay (False) whatever the share. A new one with
        ``share`` raises :class:`ReplayShareFull` (remembering nothing) when that owner
        already holds ``share.max_live`` live fingerprints.
        """
        ...

    async def forget(self, fingerprint: str, *, share: ReplayShare | None = None) -> None:
        """Drop ``fingerprint`` (remembered with ``share``): the request it stood for was
        not accepted after all."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...
