"""In-process broker: the embedded default, one process, nothing to install."""

from __future__ import annotations

from collections.abc import Sequence

from gql_keys.broker.base import EventSink
from gql_keys.broker.events import ActivityEvent


class InProcessBroker:
    def __init__(self) -> None:
        self._sink: EventSink | None = None

    async def start(self, sink: EventSink) -> None:
        self._sink = sink

    async def publish(self, events: Sequence[ActivityEvent]) -> None:
        if self._sink is None:
            return
        for event in events:
            self._sink.deliver(event)

    def has_audience(self) -> bool:
        return self._sink is not None and self._sink.subscriber_count > 0

    async def close(self) -> None:
        self._sink = None

    async def healthy(self) -> bool:
        return True
