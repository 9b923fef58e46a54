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
