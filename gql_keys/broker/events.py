"""The key-activity event published after its transaction commits."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class ActivityKind(StrEnum):
    KEY_CREATED = "KEY_CREATED"
    KEY_UPDATED = "KEY_UPDATED"
    KEY_ROLLED = "KEY_ROLLED"
    KEY_DELETED = "KEY_DELETED"
    KEY_EXPIRING = "KEY_EXPIRING"
    KEY_USED = "KEY_USED"
    KEY_DENIED = "KEY_DENIED"
    TWO_FACTOR_FAILED = "TWO_FACTOR_FAILED"
    KEY_QUARANTINED = "KEY_QUARANTINED"
    KEY_RELEASED = "KEY_RELEASED"
    CANARY_TRIPPED = "CANARY_TRIPPED"
    KEY_CHANGE_PENDING = "KEY_CHANGE_PENDING"
    KEY_CHANGE_CANCELLED = "KEY_CHANGE_CANCELLED"


class ControlKind(StrEnum):
    """Internal control events: carried by the broker, never sent to clients."""

    # A session logged out, so every worker closes its WebSockets. Carries ``session_id``.
    SESSION_ENDED = "SESSION_ENDED"


_KINDS: dict[str, ActivityKind | ControlKind] = {
    kind.value: kind for kind in (*ActivityKind, *ControlKind)
}


@dataclass(frozen=True, slots=True, weakref_slot=True)
class ActivityEvent:
    """One event; ``id`` is monotonic per stream (the usage-log id for use events).

    Weakly referenceable: subscribers share what they derive from one event while it
    lives (gql_keys.graphql.activity.sharing)."""

    id: str
    kind: ActivityKind | ControlKind
    occurred_at: datetime
    owner_id: int | None
    api_key_id: int | None = None
    key: str | None = None
    code: str | None = None
    client_ip: str | None = None
    method: str | None = None
    path: str | None = None
    session_id: int | None = None
    sub_account_id: int | None = None  # the key's (or the event's) sub-account

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ActivityEvent:
        data = json.loads(text)
        data["kind"] = _KINDS[data["kind"]]
        data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
        return cls(**data)


def new_event_id(clock_ns: int) -> str:
    """An id for events that have no usage-log row (key created/deleted, 2FA failed)."""
    return f"e{clock_ns}"
