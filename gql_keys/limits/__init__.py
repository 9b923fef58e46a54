"""Rate limiting and replay detection behind one seam (in memory now, Redis for many workers)."""

from gql_keys.limits.base import RateDecision, RateLimiter, ReplayCache
from gql_keys.limits.memory import MemoryRateLimiter, MemoryReplayCache

__all__ = ["MemoryRateLimiter", "MemoryReplayCache", "RateDecision", "RateLimiter", "ReplayCache"]
