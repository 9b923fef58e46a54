"""Signed partner requests on ``/graphql``: the ``KEY`` / ``Timestamp`` / ``SIGN`` headers.

The request is verified exactly like a gateway's ``verifyApiRequest`` (method, path, raw
query string and the exact body bytes) with the client address the context computed
(socket peer, or a trusted proxy's ``X-Forwarded-For``). A request that carries any of
the headers but does not verify gets one top-level ``UNAUTHENTICATED`` error and no
field runs (a canary's use looks exactly like an unknown key's); a quarantined key's,
``KEY_QUARANTINED`` (a quarantined key may only read and cancel orders, which no call to
``/graphql`` is); when its decision cannot be logged, ``SERVICE_UNAVAILABLE``.
"""

from __future__ import annotations

from collections.abc import Mapping

from graphql.error import GraphQLError
from starlette.requests import Request
from strawberry.types import ExecutionResult

from gql_keys.domain_errors import ServiceUnavailable
from gql_keys.graphql.context import Context
from gql_keys.runtime import Runtime
from gql_keys.services.verification import VerificationCode, authenticate_signed_request

SIGNATURE_HEADERS = ("key", "timestamp", "sign")
_REFUSAL_ATTRIBUTE = "partner_refusal"
_MESSAGES = {
    "UNAUTHENTICATED": "The request signature did not verify.",
    "KEY_QUARANTINED": "This key is quarantined: it may only read and cancel orders.",
    "SERVICE_UNAVAILABLE": "The request cannot be recorded now; try again.",
}


def has_signature_headers(headers: Mapping[str, str]) -> bool:
    return any(name in headers for name in SIGNATURE_HEADERS)


async def authenticate_partner(rt: Runtime, request: Request, context: Context) -> None:
    """Set ``context.principal`` to the signing key, or mark the request refused."""
    headers = request.headers
    key, timestamp, signature = (headers.get(name) for name in SIGNATURE_HEADERS)
    refusal = "UNAUTHENTICATED"
    if key is not None and timestamp is not None and signature is not None:
        try:
            principal, code = await authenticate_signed_request(
                rt,
                key=key,
                signature=signature,
                timestamp=timestamp,
                method=request.method,
                path=request.url.path,
                query=request.scope.get("query_string", b"").decode("latin-1"),
                body=await request.body(),
                client_ip=context.client_ip,
            )
        except ServiceUnavailable:
            principal, refusal = None, "SERVICE_UNAVAILABLE"
        else:
            if code is VerificationCode.KEY_QUARANTINED:
                refusal = "KEY_QUARANTINED"
        if principal is not None:
            context.principal = principal
            return
    context.credentials_rejected = True
    setattr(request.state, _REFUSAL_ATTRIBUTE, refusal)


def partner_refusal(request: Request) -> ExecutionResult | None:
    """The whole response for a refused signed request; None for any other request."""
    # The scope's state dict itself: ``getattr(request.state, ...)`` raises and
    # catches an AttributeError on every ordinary request.
    code = request.scope.get("state", {}).get(_REFUSAL_ATTRIBUTE)
    if code is None:
        return None
    return ExecutionResult(
        data=None, errors=[GraphQLError(_MESSAGES[code], extensions={"code": code})]
    )
