"""Request ids: one per HTTP request or WebSocket, echoed as ``X-Request-Id`` and logged."""

from __future__ import annotations

import os
import re
import secrets

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ID_BYTES = 8
# Random bytes drawn from the OS 512 ids at a time: one getrandom call per id was a
# system call on every request. Each id still takes 8 bytes never handed out before.
_POOL_BYTES = 512 * _ID_BYTES


class _Pool:
    __slots__ = ("bytes", "offset")

    def __init__(self) -> None:
        self.bytes = b""
        self.offset = 0


_pool = _Pool()


def _forget_pool() -> None:
    """A forked child must not hand out the ids its parent will."""
    _pool.bytes, _pool.offset = b"", 0


os.register_at_fork(after_in_child=_forget_pool)


def new_request_id() -> str:
    pool, offset = _pool, _pool.offset
    if offset + _ID_BYTES > len(pool.bytes):
        pool.bytes, offset = secrets.token_bytes(_POOL_BYTES), 0
    pool.offset = offset + _ID_BYTES
    return pool.bytes[offset : offset + _ID_BYTES].hex()


def request_id_for(incoming: str | None) -> str:
    """The caller's id when it is well formed (letters, digits, ``.``, ``_``, ``-``, at
    most 64), so it can be followed through our logs; a new one otherwise."""
    return incoming if incoming and _REQUEST_ID_SHAPE.fullmatch(incoming) else new_request_id()
