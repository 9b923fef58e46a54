"""The Strawberry ASGI view: builds the context and authenticates each caller."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncGenerator, Mapping
from datetime import timedelta
from typing import Any, cast

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.async_base_view import AsyncBaseHTTPView
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from gql_keys import graphiql
from gql_keys.graphql.activity.transport import (
    LegacyGraphQLWSHandler,
    accept_socket,
    forget_socket,
)
from gql_keys.graphql.context import Context
from gql_keys.graphql.partners import authenticate_partner, has_signature_headers, partner_refusal
from gql_keys.graphql.ws_encoding import MessageEncoder
from gql_keys.request_ids import new_request_id
from gql_keys.runtime import Runtime
from gql_keys.security.client_ip import client_ip
from gql_keys.services.auth import authenticate_token, bearer_token

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
POST_CONTENT_TYPES = frozenset({JSON, GRAPHQL_RESPONSE_JSON})
WS_MESSAGE_TOO_BIG = 1009
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a request its client abandoned


@functools.lru_cache(maxsize=64)
def media_and_charset(content_type: str) -> tuple[str, str]:
    """The lower-cased media type and charset (default utf-8) of a Content-Type header.

    ``parse_content_type`` builds an ``email`` message each time; clients send the
    same few headers over and over, so the (pure) answer is cached per header text."""
    media, params = parse_content_type(content_type)
    return media.lower(), params.get("charset", "utf-8").lower()


def prefers_graphql_response_json(accept: str) -> bool:
    """Whether ``accept`` asks for ``application/graphql-response+json`` at least as
    much as for ``application/json`` (GraphQL over HTTP, the "watershed" media type)."""
    best: dict[str, float] = {}
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.strip().lower()
        best[media] = max(best.get(media, 0.0), quality)
    wanted = best.get(GRAPHQL_RESPONSE_JSON, 0.0)
    return wanted > 0 and wanted >= best.get(JSON, 0.0)


def is_request_error(result: ExecutionResult) -> bool:
    """Parse, validation and variable-coercion failures: no data and no error carrying
    a path (a field error always has one)."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


class LimitedWebSocketAdapter(ASGIWebSocketAdapter):
    """Closes the connection (1009) on a message over ``max_ws_message_bytes``."""

    def __init__(
        self,
        view: AsyncBaseHTTPView[Any, Any, Any, Any, Any, Any, Any],
        request: WebSocket,
        response: WebSocket,
    ) -> None:
        super().__init__(view, request, response)
        self.max_bytes: int = getattr(view, "max_ws_message_bytes", 64 * 1024)
        self.encoder: MessageEncoder = getattr(view, "ws_encoder", None) or MessageEncoder()

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if len(text) > self.max_bytes or len(text.encode()) > self.max_bytes:
                    await self.ws.close(code=WS_MESSAGE_TOO_BIG, reason="Message too big")
                    return
                try:
                    yield self.view.decode_json(text)
                except ValueError:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from None
        except KeyError as e:
            raise NonTextMessageReceived from e
        except WebSocketDisconnect:
            pass

    async def send_json(self, message: Mapping[str, object]) -> None:
        # A socket closed by the server (logout, slow consumer) drops late messages.
        if self.ws.application_state != WebSocketState.CONNECTED:
            return
        try:
            await self.ws.send_text(self.encoder.encode(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            await super().close(code, reason)


class SubscriptionOverHttp(Exception):
    """A subscription arrived over plain HTTP."""


def subscription_over_http() -> JSONResponse:
    """405 with a coded GraphQL error: GraphQL over HTTP allows refusing a subscription
    over POST with 405; subscriptions are served over the WebSocket of this endpoint."""
    error = {
        "message": "Subscriptions are served over WebSocket (graphql-transport-ws or "
        "graphql-ws) on this endpoint, not over HTTP.",
        "extensions": {"code": "OPERATION_NOT_SUPPORTED"},
    }
    return JSONResponse(
        {"data": None, "errors": [error]}, status_code=405, headers={"Allow": "POST"}
    )


class _JsonBodyAdapter:
    """A request adapter whose JSON body was sent as ``graphql-response+json``."""

    def __init__(self, inner: AsyncHTTPRequestAdapter) -> None:
        self._inner = inner

    @property
    def content_type(self) -> str:
        return JSON

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class GraphQLView(GraphQL[Context, None]):
    """GraphQL over HTTP, strictly: POST with a JSON body (no batching, no multipart),
    GET only for queries and only when enabled, ``application/graphql-response+json``
    with its status codes for clients that ask for it."""

    websocket_adapter_class = LimitedWebSocketAdapter
    graphql_ws_handler_class = LegacyGraphQLWSHandler

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
        self.max_ws_message_bytes = settings.max_ws_message_bytes
        # One for all sockets: a result shared by many of them is encoded once.
        self.ws_encoder = MessageEncoder()

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from the package, under its own CSP (only reached in development)."""
        return HTMLResponse(graphiql.PAGE.read_bytes(), headers=graphiql.HEADERS)

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Context | UnsetType = UNSET,
        root_value: UnsetType | None = UNSET,
    ) -> Response | WebSocket:
        if not isinstance(request, Request):
            # The socket's context is made here (Strawberry would make the same one) so
            # its registration can be found again when the socket closes.
            socket_context = (
                context
                if isinstance(context, Context)
                else await self.get_context(request, request)
            )
            try:
                return await super().run(request, socket_context, root_value)  # type: ignore[arg-type]
            finally:
                forget_socket(self.rt, socket_context)
        try:
            self.check_http_request(request)
            response = await super().run(request, context, root_value)  # type: ignore[arg-type]
        except HTTPException as exc:
            headers = {"Allow": "POST"} if exc.status_code == 405 else None
            return PlainTextResponse(exc.reason, status_code=exc.status_code, headers=headers)
        except SubscriptionOverHttp:
            return subscription_over_http()
        except ClientDisconnect:
            # The client left before its body arrived: nothing ran, and nobody reads this.
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        if response.media_type == JSON and prefers_graphql_response_json(
            request.headers.get("accept", "")
        ):
            response.headers["content-type"] = GRAPHQL_RESPONSE_JSON
            if getattr(request.state, "graphql_request_error", False):
                response.status_code = 400
        return response

    def check_http_request(self, request: Request) -> None:
        """Refuse what GraphQL over HTTP (and our policy) does not execute."""
        if request.method == "POST":
            media, charset = media_and_charset(request.headers.get("content-type", ""))
            if media not in POST_CONTENT_TYPES or charset not in ("utf-8", "utf8"):
                raise HTTPException(415, "Unsupported Media Type: send application/json.")
        elif (
            request.method == "GET"
            and "query" in request.query_params
            and not self.allow_queries_via_get
        ):
            raise HTTPException(405, "GraphQL operations are sent with POST.")

    def parse_json(self, data: str | bytes) -> Any:
        """A JSON object (or array, refused later as a batch) from a body or parameter;
        anything else, including bytes that are not UTF-8, is a 400."""
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            value = json.loads(text)
        except ValueError:
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(value, dict | list):
            raise HTTPException(400, "The request must be a JSON object.")
        return value

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        media, _ = media_and_charset(request.content_type or "")
        if request.method == "POST" and media == GRAPHQL_RESPONSE_JSON:
            request = cast("AsyncHTTPRequestAdapter", _JsonBodyAdapter(request))
        return await super().parse_http_body(request)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if (refusal := partner_refusal(request)) is not None:
            return refusal
        method = request_adapter.method
        # Subscriptions are served over WebSocket only (Strawberry would run one over
        # POST, and fail on its stream with an internal error).
        allowed = OperationType.from_http(method) - {OperationType.SUBSCRIPTION}
        if method == "GET" and not self.allow_queries_via_get:
            allowed -= {OperationType.QUERY}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                raise SubscriptionOverHttp from exc
            # A mutation over GET: 405, as GraphQL over HTTP requires.
            raise HTTPException(405, exc.as_http_error_reason(method)) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if is_request_error(result):
            request.state.graphql_request_error = True
            if prefers_graphql_response_json(request.headers.get("accept", "")):
                response.pop("data", None)
        return response

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate ``connection_init``; closes 4401/4403/4429 on failure."""
        return await accept_socket(self.rt, context)

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
        if isinstance(request, Request) and has_signature_headers(request.headers):
            await authenticate_partner(rt, request, context)
        elif isinstance(request, Request):
            token = bearer_token(request.headers.get("authorization"))
            if token is not None:
                context.principal = await authenticate_token(rt, token)
                context.credentials_rejected = context.principal is None
        return context
