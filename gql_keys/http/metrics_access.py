"""Who may read ``/metrics``: anyone in development, a monitor service token in production."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from gql_keys.principals import ServicePrincipal, ServiceRole
from gql_keys.runtime import Runtime
from gql_keys.services.auth import authenticate_token, bearer_token

Endpoint = Callable[[Request], Awaitable[Response]]


async def metrics_refusal(rt: Runtime, request: Request) -> Response | None:
    """None when ``request`` may read the metrics; else 401 (no valid token) or 403."""
    if not rt.settings.production:
        return None
    token = bearer_token(request.headers.get("authorization"))
    principal = await authenticate_token(rt, token) if token is not None else None
    if principal is None:
        return PlainTextResponse(
            "A monitor service token is required.",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not (isinstance(principal, ServicePrincipal) and principal.role is ServiceRole.MONITOR):
        return PlainTextResponse("Only a monitor service token may read metrics.", 403)
    return None


def monitor_only_in_production(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` behind :func:`metrics_refusal`."""

    async def guarded(request: Request) -> Response:
        refusal = await metrics_refusal(request.app.state.rt, request)
        return refusal if refusal is not None else await endpoint(request)

    return guarded
