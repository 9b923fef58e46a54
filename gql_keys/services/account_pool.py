"""The account-wide rate-limit pool: every key of one account counts against one window.

An account is a master's own keys, or one sub-account's keys. Besides its own limit, a
request counts against its account's pool (``GQL_KEYS_ACCOUNT_RATE_LIMIT_REQUESTS`` per
``..._PER_SECONDS``), so making more keys does not buy more requests. Both are counted
in one step of the rate limiter (one Redis round trip), and the decision reported is the
tighter of the two. ``GQL_KEYS_ACCOUNT_RATE_LIMIT_REQUESTS=0`` turns the pool off.
"""

from __future__ import annotations

from gql_keys.key_cache import KeyRecord
from gql_keys.limits.base import Pool, RateDecision
from gql_keys.runtime import Runtime


def pool_bucket(record: KeyRecord) -> str:
    """The pool's name: one per sub-account, one for a master's own keys."""
    if record.sub_account_id is not None:
        return f"sub-account:{record.sub_account_id}"
    return f"account:{record.user_id}"


async def hit(rt: Runtime, record: KeyRecord, now: float) -> RateDecision:
    """Count one request against the key's own window and its account's pool."""
    settings = rt.settings
    bucket = f"key:{record.id}"
    if settings.account_rate_limit_requests <= 0:
        return await rt.rate_limiter.hit(
            bucket, record.rate_limit_requests, record.rate_limit_per_seconds, now
        )
    pool = Pool(
        pool_bucket(record),
        settings.account_rate_limit_requests,
        settings.account_rate_limit_per_seconds,
    )
    return await rt.rate_limiter.hit_pooled(
        bucket, record.rate_limit_requests, record.rate_limit_per_seconds, pool, now
    )
