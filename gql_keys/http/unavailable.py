"""A dependency that cannot be reached answers 503 with a clear error, never a bare 500.

When PostgreSQL is down, anything that reads it outside the usage-log path (checking a
session or service token, loading a key that is not cached) raises a connection error.
These handlers turn it into the same top-level GraphQL error the verification path uses
(``extensions.code = SERVICE_UNAVAILABLE``) with HTTP status 503, so a gateway denies the
request and knows why. WebSockets are closed with 1013 (try again later).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from asyncpg.exceptions import InterfaceError, OperatorInterventionError, PostgresConnectionError
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket
from tortoise.exceptions import OperationalError

log = logging.getLogger("gql_keys.http")

UNAVAILABLE_TYPES: tuple[type[BaseException], ...] = (
    OSError,  # connection refused or reset; tortoise's DBConnectionError is one too
    PostgresConnectionError,
    OperatorInterventionError,  # the server is shutting down or starting up
    InterfaceError,  # the connection was closed under the driver
)
TRY_AGAIN_LATER = 1013
LOG_EVERY_SECONDS = 5.0
_last_logged = float("-inf")


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database cannot be reached."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, UNAVAILABLE_TYPES):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def service_unavailable(conn: HTTPConnection, exc: Exception) -> Response | None:
    if not is_unavailable(exc):
        raise exc
    global _last_logged
    now = time.monotonic()
    if now - _last_logged >= LOG_EVERY_SECONDS:  # one line per interval, not one per request
        _last_logged = now
        log.warning("dependency unavailable (%s: %s): answering 503", type(exc).__name__, exc)
    if isinstance(conn, WebSocket):
        await conn.close(TRY_AGAIN_LATER, "service unavailable")
        return None
    return JSONResponse(
        {
            "data": None,
            "errors": [
                {
                    "message": "The service is temporarily unavailable; try again later.",
                    "extensions": {"code": "SERVICE_UNAVAILABLE"},
                }
            ],
        },
        status_code=503,
        headers={"Retry-After": "1"},
    )


def unavailable_handlers() -> dict[type[BaseException], Any]:
    """``exception_handlers`` for the Starlette app."""
    return dict.fromkeys((*UNAVAILABLE_TYPES, OperationalError), service_unavailable)
