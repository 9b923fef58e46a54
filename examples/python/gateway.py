"""A gateway for those without Envoy, nginx or Traefik: check with gql-keys, then forward.

    export GQL_KEYS_URL=http://127.0.0.1:8000 GQL_KEYS_VERIFIER_TOKEN=gksvc_...
    UPSTREAM_URL=http://127.0.0.1:9000 uvicorn gateway:app --port 8080

Every partner request is sent to ``verifyApiRequest`` (with a verifier service token);
only an allowed one reaches the upstream, with ``X-Api-Key-Id`` added. Refusals use
Gate's error format, ``{"label": ..., "message": ...}``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

VERIFY = """
mutation Verify($input: VerifyApiRequestInput!) {
  verifyApiRequest(input: $input) { allowed code apiKey { id } rateLimit { resetAt } }
}
"""
REFUSALS = {  # verification code -> (HTTP status, Gate label)
    "KEY_NOT_FOUND": (401, "INVALID_KEY"),
    "KEY_DELETED": (401, "INVALID_KEY"),
    "KEY_EXPIRED": (401, "INVALID_KEY"),
    "INVALID_SIGNATURE": (401, "INVALID_SIGNATURE"),
    "TIMESTAMP_OUT_OF_WINDOW": (401, "REQUEST_EXPIRED"),
    "REPLAYED": (401, "REQUEST_REPLAYED"),
    "IP_NOT_ALLOWED": (403, "IP_FORBIDDEN"),
    "SCOPE_NOT_GRANTED": (403, "FORBIDDEN"),
    "ACCOUNT_LOCKED": (403, "ACCOUNT_LOCKED"),
    "RATE_LIMITED": (429, "TOO_MANY_REQUESTS"),
    "KEY_QUARANTINED": (403, "KEY_QUARANTINED"),
    # A canary (a decoy key) must look exactly like an unknown key to whoever used it.
    "CANARY_TRIPPED": (401, "INVALID_KEY"),
}
SHOWN_AS = {"CANARY_TRIPPED": "KEY_NOT_FOUND"}
AREAS = {"spot", "margin", "futures", "delivery", "options", "wallet", "account"}

gql_keys = httpx.AsyncClient(
    base_url=os.environ["GQL_KEYS_URL"],
    headers={"Authorization": f"Bearer {os.environ['GQL_KEYS_VERIFIER_TOKEN']}"},
    timeout=5,
)
upstream = httpx.AsyncClient(base_url=os.environ["UPSTREAM_URL"], timeout=30)


def required_scope(method: str, path: str) -> str | None:
    """Gate's layout: /api/v4/<area>/... needs <AREA>_READ to read, <AREA>_WRITE otherwise."""
    parts = path.split("/")  # ["", "api", "v4", area, ...]
    if len(parts) < 4 or parts[1:3] != ["api", "v4"]:
        return None
    if parts[3] == "withdrawals":
        return "WITHDRAW"
    if parts[3] in AREAS:
        return f"{parts[3].upper()}_{'READ' if method in ('GET', 'HEAD') else 'WRITE'}"
    return None


def refuse(status: int, label: str, message: str, **headers: str) -> Response:
    return JSONResponse({"label": label, "message": message}, status, headers=headers)


async def gateway(request: Request) -> Response:
    body = await request.body()
    scope = required_scope(request.method, request.url.path)
    if scope is None:
        return refuse(403, "FORBIDDEN", "No route here.")
    headers = request.headers
    if not all(name in headers for name in ("KEY", "Timestamp", "SIGN")):
        return refuse(401, "MISSING_REQUIRED_HEADER", "Send KEY, Timestamp and SIGN.")
    request_input = {
        "key": headers["KEY"],
        "signature": headers["SIGN"],
        "timestamp": headers["Timestamp"],
        "method": request.method,
        "path": request.url.path,
        "query": request.scope["query_string"].decode("latin-1"),
        "bodySha512": hashlib.sha512(body).hexdigest(),
        "clientIp": request.client.host if request.client else "",
        "requiredScope": scope,
    }
    try:
        answer = await gql_keys.post(
            "/graphql", json={"query": VERIFY, "variables": {"input": request_input}}
        )
        decision = answer.json()["data"]["verifyApiRequest"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        # No decision (gql-keys down, SERVICE_UNAVAILABLE): never let the request through.
        return refuse(503, "SERVER_ERROR", "Authorisation is unavailable; retry shortly.")
    if not decision["allowed"]:
        code = decision["code"]
        status, label = REFUSALS.get(code, (403, "FORBIDDEN"))  # a code added later: refuse
        extra = {"Retry-After": "1"} if status == 429 else {}
        return refuse(status, label, SHOWN_AS.get(code, code), **extra)
    forwarded = await upstream.request(
        request.method,
        request.url.path,
        params=request.url.query,
        content=body,
        headers={"X-Api-Key-Id": decision["apiKey"]["id"], "content-type": "application/json"},
    )
    return Response(forwarded.content, forwarded.status_code, media_type="application/json")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with gql_keys, upstream:  # one connection pool each, closed on shutdown
        yield


METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
app = Starlette(routes=[Route("/{path:path}", gateway, methods=METHODS)], lifespan=lifespan)
