"""The Strawberry ASGI view: builds the context and authenticates each caller."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from gql_keys.graphql.context import Context
from gql_keys.http.client_ip import client_ip
from gql_keys.runtime import Runtime
from gql_keys.services.auth import authenticate_token, bearer_token


def new_request_id() -> str:
    return secrets.token_hex(8)


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, rt: Runtime, schema: Any) -> None:
        settings = rt.settings
        super().__init__(
            schema,
            graphql_ide=None if settings.production else "graphiql",
            allow_queries_via_get=settings.queries_over_get,
            keep_alive=True,
            keep_alive_interval=settings.ws_keepalive_seconds,
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_subscriptions_per_connection,
            allowed_origins=settings.allowed_origins,
        )
        self.rt = rt

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        rt = self.rt
        peer = request.client.host if request.client else None
        context = Context(
            request=request,
            response=response,
            rt=rt,
            client_ip=client_ip(peer, request.headers, rt.settings.trusted_proxies),
            request_id=getattr(request.state, "request_id", None) or new_request_id(),
        )
        if isinstance(request, Request):
            token = bearer_token(request.headers.get("authorization"))
            if token is not None:
                context.principal = await authenticate_token(rt, token)
                context.credentials_rejected = context.principal is None
        return context
