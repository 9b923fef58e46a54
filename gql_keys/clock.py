"""Time source for every service; tests move it forward instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Wall-clock time plus an adjustable offset (zero in production)."""

    def __init__(self) -> None:
        self.offset_seconds = 0.0

    def time(self) -> float:
        return time.time() + self.offset_seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        self.offset_seconds += seconds


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one is taken as UTC already."""
    if moment.tzinfo is UTC:  # the common case (the clock's, PostgreSQL's): as it is
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
