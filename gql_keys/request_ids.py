"""Request ids: one per HTTP request or WebSocket, echoed as ``X-Request-Id`` and logged."""

from __future__ import annotations

import re
import secrets

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9._-]{1,64}")


def new_request_id() -> str:
    return secrets.token_hex(8)


def request_id_for(incoming: str | None) -> str:
    """The caller's id when it is well formed (letters, digits, ``.``, ``_``, ``-``, at
    most 64), so it can be followed through our logs; a new one otherwise."""
    return incoming if incoming and _REQUEST_ID_SHAPE.fullmatch(incoming) else new_request_id()
