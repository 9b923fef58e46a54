"""Deleting old rows batch by batch, so a long prune never holds one huge transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

Progress = Callable[[int, int], None]


async def prune_in_batches(
    cutoff: datetime,
    count_older_than: Callable[[datetime], Awaitable[int]],
    delete_batch_older_than: Callable[[datetime, int], Awaitable[int]],
    batch_size: int,
    progress: Progress | None = None,
) -> int:
    """Delete rows older than ``cutoff`` until none are left; returns the count.

    ``progress(deleted_so_far, total)`` is called before the first batch and after each.
    """
    total = await count_older_than(cutoff)
    deleted = 0
    if progress is not None:
        progress(0, total)
    while True:
        removed = await delete_batch_older_than(cutoff, batch_size)
        if removed == 0:
            break
        deleted += removed
        if progress is not None:
            progress(deleted, max(total, deleted))
    return deleted
