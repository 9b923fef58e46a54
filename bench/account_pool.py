"""What the account-wide pool adds to one verification, measured in process.

``python -m bench.account_pool`` times the rate-limit step of the hot path
(``services.account_pool.hit``) with the pool on (the key's window and the account's
pool counted together) and off (``GQL_KEYS_ACCOUNT_RATE_LIMIT_REQUESTS=0``: the key's
window alone), on the in-process limiter the embedded default uses, in interleaved
rounds of ``--calls`` awaited calls each. It prints the cost per call of each (the
fastest round, what the code costs when the shared machine lets it run, and the median),
the difference, and that difference as a share of one ``/authz`` request's server CPU
(``--authz-cpu-us``, what ``python -m bench.authz`` reports per request; 180 us here).

A wall-clock throughput ratio of two servers (``python -m bench.authz --only authz
nopool``) cannot resolve a few microseconds on a shared, loaded machine; this can.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from types import SimpleNamespace
from typing import cast

from gql_keys.key_cache import KeyRecord
from gql_keys.limits.memory import MemoryRateLimiter
from gql_keys.runtime import Runtime
from gql_keys.services import account_pool
from gql_keys.settings import Settings


def runtime(pool_requests: int) -> Runtime:
    settings = Settings(account_rate_limit_requests=pool_requests)
    return cast(Runtime, SimpleNamespace(settings=settings, rate_limiter=MemoryRateLimiter()))


def record() -> KeyRecord:
    return KeyRecord(
        id=7,
        user_id=3,
        key="gqk_bench",
        label="bench",
        algorithm="HMAC_SHA512",
        scopes=frozenset(),
        networks=(),
        expires_at=None,
        deleted=False,
        rate_limit_requests=1_000_000_000,
        rate_limit_per_seconds=10,
        secret=None,
        public_key=None,
        row=None,
    )


async def per_call_us(rt: Runtime, key: KeyRecord, calls: int) -> float:
    now = time.time()
    hit = account_pool.hit
    started = time.perf_counter()
    for _ in range(calls):
        await hit(rt, key, now)
    return (time.perf_counter() - started) / calls * 1e6


async def bench(args: argparse.Namespace) -> None:
    on, off, key = runtime(1_000_000_000), runtime(0), record()
    results: dict[str, list[float]] = {"pool on": [], "pool off": []}
    for r in range(args.rounds):
        order = [("pool on", on), ("pool off", off)]
        for name, rt in order if r % 2 == 0 else reversed(order):
            results[name].append(await per_call_us(rt, key, args.calls))
    # The fastest round of each: what the code costs when the shared machine lets it run.
    with_pool = min(results["pool on"])
    without = min(results["pool off"])
    print(f"{args.rounds} interleaved rounds x {args.calls} calls (in-process limiter)")
    for name, values in results.items():
        print(
            f"  {name:8s} fastest {min(values):6.3f}, median "
            f"{statistics.median(values):6.3f} us/call; rounds: "
            + ", ".join(f"{v:.3f}" for v in values)
        )
    extra = with_pool - without
    share = extra / args.authz_cpu_us
    print(
        f"the pool adds {extra:.3f} us per verification (fastest rounds): {share:.2%} of "
        f"one /authz request's {args.authz_cpu_us:g} us of server CPU (goal: under 5%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.account_pool", description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--authz-cpu-us", type=float, default=180.0)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
