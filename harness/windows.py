"""Keeping a test's requests inside one fixed window of time.

Rate limits count in fixed windows, and TOTP codes live in 30-second steps, that start
at multiples of their length (Unix time): a test whose requests straddle a window's
start sees its count reset, or its code age, halfway.
"""

from __future__ import annotations

import asyncio
import time

from gql_keys.runtime import Runtime


def start_of_window(rt: Runtime, seconds: float) -> float:
    """Move ``rt.clock`` just past the start of the next ``seconds``-long window (for a
    server sharing ``rt``); the new time, with a whole window ahead of it."""
    now = rt.clock.time()
    rt.clock.advance(seconds - now % seconds + 0.01)
    return rt.clock.time()


async def clear_of_window_end(
    seconds: float, margin: float = 3.0, now: float | None = None
) -> None:
    """For servers on the real clock: when the current ``seconds``-long window ends within
    ``margin`` seconds of ``now`` (default: the wall clock), wait until it has ended."""
    left = seconds - (time.time() if now is None else now) % seconds
    if left < margin:
        await asyncio.sleep(left + 0.05)
