"""The per-request (or per-WebSocket) context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from gql_keys.principals import Principal
from gql_keys.runtime import Runtime
from gql_keys.services.security_events import ClientInfo


@dataclass(slots=True)
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    rt: Runtime
    client_ip: str
    request_id: str
    principal: Principal | None = None
    # A bearer token or signature was presented but did not authenticate.
    credentials_rejected: bool = False
    # Per-request caches (DataLoaders); created lazily by the loaders module.
    loaders: dict[str, Any] = field(default_factory=dict)
    # WebSockets: the connection_init payload (Strawberry sets it before on_ws_connect).
    connection_params: dict[str, Any] | None = None
    # WebSockets: this socket's key in the socket registry once registered (unique in
    # the process; never ``id()``, which a later socket may reuse).
    socket_id: int | None = None

    @property
    def client(self) -> ClientInfo:
        """The client address and user agent, as the security log records them."""
        return ClientInfo.of(self.client_ip, self.request.headers.get("user-agent"))


Info = StrawberryInfo[Context, None]


def no_store(info: Info) -> None:
    """Keep a response that carries a secret, seed, token or codes out of every cache.

    (The middleware also marks every /graphql response; this holds wherever the
    resolver is mounted.)
    """
    response = info.context.response
    if isinstance(response, Response):
        response.headers["Cache-Control"] = "no-store"
