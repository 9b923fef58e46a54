"""``POST /secret-scanning/github``: GitHub's secret-scanning partner endpoint.

GitHub posts the tokens it found in public places that look like gql-keys secrets
(``gqks_``…), signed with ECDSA; :mod:`gql_keys.services.secret_scanning` checks the
signature and quarantines each live key found. The answers: 200 with one
``{"token_raw", "token_type", "label"}`` per token; 401 for a missing or wrong signature
and 400 for a malformed alert (nothing changes); 413 for an alert larger than one may be;
503 with ``Retry-After`` when GitHub's public keys cannot be fetched (GitHub sends the
alert again later).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from gql_keys.domain_errors import ServiceUnavailable
from gql_keys.runtime import Runtime
from gql_keys.security.client_ip import client_ip
from gql_keys.services.secret_scanning import (
    MAX_ALERT_BYTES,
    AlertMalformed,
    AlertRejected,
    AlertTooLarge,
    AlertUnsigned,
    handle_alert,
)
from gql_keys.services.security_events import ClientInfo

PATH = "/secret-scanning/github"
KEY_IDENTIFIER_HEADER = "github-public-key-identifier"
SIGNATURE_HEADER = "github-public-key-signature"
_STATUS: dict[type[AlertRejected], int] = {
    AlertUnsigned: 401,
    AlertMalformed: 400,
    AlertTooLarge: 413,
}


async def _body(request: Request) -> bytes:
    """The raw body, refused as soon as it grows past one alert's limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ALERT_BYTES:
        raise AlertTooLarge(f"An alert may be at most {MAX_ALERT_BYTES} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_ALERT_BYTES:
            raise AlertTooLarge(f"An alert may be at most {MAX_ALERT_BYTES} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def github_alert(request: Request) -> JSONResponse:
    rt: Runtime = request.app.state.rt
    headers = request.headers
    peer = request.client.host if request.client else None
    client = ClientInfo.of(
        client_ip(peer, headers, rt.settings.trusted_proxies), headers.get("user-agent")
    )
    try:
        body = await _body(request)
        answer = await handle_alert(
            rt, body, headers.get(KEY_IDENTIFIER_HEADER), headers.get(SIGNATURE_HEADER), client
        )
    except AlertRejected as exc:
        return JSONResponse({"message": exc.reason}, status_code=_STATUS[type(exc)])
    except ServiceUnavailable:
        return JSONResponse(
            {"message": "GitHub's public keys cannot be fetched now; send the alert again."},
            status_code=503,
            headers={"Retry-After": "60"},
        )
    return JSONResponse(answer)
