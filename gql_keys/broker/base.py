"""The broker seam: in-process by default, Redis when workers share one stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gql_keys.broker.events import ActivityEvent


class EventSink(Protocol):
    """Receives every event this process hears about (the local fan-out hub)."""

    def deliver(self, event: ActivityEvent) -> None: ...

    @property
    def subscriber_count(self) -> int: ...


class Broker(Protocol):
    async def start(self, sink: EventSink) -> None: ...

    async def publish(self, events: Sequence[ActivityEvent]) -> None: ...

    def has_audience(self) -> bool:
        """Whether a published activity event can reach anyone now (else callers may
        skip building it)."""
        ...

    async def close(self) -> None: ...

    async def healthy(self) -> bool: ...
