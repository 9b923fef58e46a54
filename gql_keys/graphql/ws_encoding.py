"""WebSocket messages as JSON, a result shared by many sockets encoded once.

Sockets that share an event's execution (:mod:`gql_keys.graphql.activity.sharing`) send
the same ``data`` object, each in a message of its own operation id. The payload's JSON
is kept for the last results seen (by the identity of their ``data``, which the entry
holds, so an id is never reused while cached) and spliced into each socket's message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

RESULT_TYPES = frozenset({"next", "data"})  # graphql-transport-ws, graphql-ws
CACHED_RESULTS = 256


def encode(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


class MessageEncoder:
    """Encodes WebSocket messages; a result payload's JSON is reused while it is cached."""

    def __init__(self, size: int = CACHED_RESULTS) -> None:
        self.size = size
        self._payloads: dict[int, tuple[object, str]] = {}

    def encode(self, message: Mapping[str, object]) -> str:
        payload = message.get("payload")
        if (
            message.get("type") not in RESULT_TYPES
            or not isinstance(payload, dict)
            or payload.keys() != {"data"}
        ):
            return encode(message)
        data = payload["data"]
        cached = self._payloads.get(id(data))
        if cached is None or cached[0] is not data:
            if len(self._payloads) >= self.size:
                del self._payloads[next(iter(self._payloads))]  # the oldest
            cached = self._payloads[id(data)] = (data, encode(payload))
        head = encode({name: value for name, value in message.items() if name != "payload"})
        return f'{head[:-1]},"payload":{cached[1]}}}'
