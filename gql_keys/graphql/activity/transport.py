"""Authenticating a WebSocket in ``connection_init`` and tracking it for logout and caps.

Close codes (see :mod:`gql_keys.sockets`): 4401 when ``connection_init`` carries no
valid ``{"authorization": "Bearer …"}`` (or the session later logs out), 4403 for a
principal that may not subscribe (verifier token), 4429 when the principal already has
``ws_max_connections_per_principal`` sockets open, 4008 for a slow consumer. No
subscription can start before authentication: Strawberry answers a ``subscribe``
before ``connection_ack`` with 4401 itself. Both protocols close a socket that sends no
``connection_init`` within the init timeout (4408) and one that sends a second (4429).
The socket registry re-checks each credential (not each socket) every
``ws_reauth_seconds`` while a socket it opened is open, and closes them all (4401) once
it no longer holds.

Origins: the view refuses (HTTP 403, before any hook) a cross-origin handshake whose
``Origin`` is not in ``GQL_KEYS_ALLOWED_ORIGINS``. With the list empty only same-origin
browser pages and clients that send no ``Origin`` (gateways, monitors, CLIs) connect.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, cast

from starlette.websockets import WebSocket, WebSocketState
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage
from strawberry.types.unset import UNSET, UnsetType

from gql_keys.graphql.context import Context
from gql_keys.principals import Principal, UserPrincipal
from gql_keys.runtime import Runtime
from gql_keys.security.tokens import token_digest
from gql_keys.services.activity import may_subscribe, principal_key
from gql_keys.services.auth import authenticate_token, bearer_token
from gql_keys.sockets import (
    CLOSE_FORBIDDEN,
    CLOSE_INIT_TIMEOUT,
    CLOSE_TOO_MANY_CONNECTIONS,
    CLOSE_TOO_MANY_INITS,
    CLOSE_UNAUTHORIZED,
)


async def close_socket(ws: WebSocket, code: int, reason: str) -> None:
    """Close ``ws`` unless it is closed already (closing twice is not an error here)."""
    if ws.application_state == WebSocketState.CONNECTED:
        await ws.close(code=code, reason=reason)


def _authorization(params: dict[str, Any] | None) -> str | None:
    if not params:
        return None
    for name in ("authorization", "Authorization"):
        value = params.get(name)
        if isinstance(value, str):
            return value
    return None


async def _refuse(ws: WebSocket, code: int, reason: str) -> ConnectionRejectionError:
    await close_socket(ws, code, reason)
    return ConnectionRejectionError({"code": code, "reason": reason})


async def accept_socket(rt: Runtime, context: Context) -> UnsetType:
    """Authenticate the ``connection_init`` payload; close the socket when it fails."""
    ws = context.request
    assert isinstance(ws, WebSocket)
    if context.principal is not None or context.socket_id is not None:
        # One connection_init per socket, whatever the protocol handler let through.
        raise await _refuse(ws, CLOSE_TOO_MANY_INITS, "Too many initialisation requests")
    token = bearer_token(_authorization(context.connection_params))
    # A socket is not use of the session: only HTTP requests keep it alive.
    principal = await authenticate_token(rt, token, in_use=False) if token is not None else None
    if token is None or principal is None:
        raise await _refuse(ws, CLOSE_UNAUTHORIZED, "Unauthorized")
    if not may_subscribe(principal):
        raise await _refuse(ws, CLOSE_FORBIDDEN, "Forbidden")

    async def close(code: int, reason: str) -> None:
        await close_socket(ws, code, reason)

    session_id = principal.session_id if isinstance(principal, UserPrincipal) else None
    socket_id = rt.sockets.new_id()
    if not rt.sockets.register(socket_id, principal_key(principal), session_id, close):
        raise await _refuse(ws, CLOSE_TOO_MANY_CONNECTIONS, "Too many connections")
    context.socket_id = socket_id
    context.principal = principal
    # One check for every socket of this token (it holds no socket, only the credential).
    check = functools.partial(credential_holds, rt, token, principal)
    rt.sockets.watch(socket_id, token_digest(token), check, rt.settings.ws_reauth_seconds)
    unset: UnsetType = UNSET
    return unset


async def credential_holds(rt: Runtime, token: str, principal: Principal) -> bool:
    """Whether ``token`` still stands for ``principal`` (not revoked, not expired, and a
    session not idle): the check itself never refreshes the session."""
    return await authenticate_token(rt, token, in_use=False) == principal


def forget_socket(rt: Runtime, context: Context) -> None:
    """The socket closed: unregister it (its credential's watchdog stops with the last)."""
    if context.socket_id is not None:
        rt.sockets.unregister(context.socket_id)


class LegacyGraphQLWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy ``graphql-ws`` protocol held to ``graphql-transport-ws``'s rules: a
    socket without ``connection_init`` within the init timeout is closed 4408, and a
    second ``connection_init`` closes it 4429 (Strawberry's handler acked every one)."""

    _init_received = False

    async def handle(self) -> None:
        timeout = asyncio.get_running_loop().create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            timeout.cancel()

    async def _close_unless_initialised(self) -> None:
        view = cast("Any", self.view)
        await asyncio.sleep(view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout")

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self._init_received:
            await self.websocket.close(CLOSE_TOO_MANY_INITS, "Too many initialisation requests")
            return
        self._init_received = True
        await super().handle_connection_init(message)
