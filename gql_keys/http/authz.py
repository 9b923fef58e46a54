"""``/authz``: forward authentication for Envoy ``ext_authz``, nginx ``auth_request`` and
Traefik ForwardAuth, answering with the same decision as ``verifyApiRequest``.

A plain ASGI endpoint (every method, no GraphQL): it reads what the gateway saw of the
partner's request from the check request, asks the verification service, and answers in
Gate's error format. The order: verifier token (401 ``INVALID_VERIFIER``), signature
headers (401 ``MISSING_REQUIRED_HEADER``), required scope (403 ``FORBIDDEN`` when no rule
covers the path), then the decision, answered only once its usage row is durable (503
``SERVER_ERROR`` when it cannot be). The refusals before the decision write no row:
no key was judged.

Every refusal also carries its label in ``X-Error-Label``: nginx's ``auth_request``
drops the check response's body, so its config rebuilds the Gate body from that header.

It is the hot path, so :func:`~gql_keys.app.create_app` dispatches to it before
Starlette's middleware and routing, and it keeps what those give every request itself:
the body size limit (413 ``REQUEST_TOO_LARGE``, checked before anything else), the
request id (``X-Request-Id`` and the log context), ``X-Content-Type-Options``, and 503
``SERVER_ERROR`` when a dependency cannot be reached.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping

from starlette.types import Message, Receive, Scope, Send

from gql_keys.app_logging import request_id_var
from gql_keys.domain_errors import ServiceUnavailable
from gql_keys.global_ids import encode_global_id
from gql_keys.http.middleware import BodyTooLarge
from gql_keys.http.unavailable import is_unavailable
from gql_keys.request_ids import REQUEST_ID_HEADER, request_id_for
from gql_keys.runtime import Runtime
from gql_keys.scopes import Scope as KeyScope
from gql_keys.scopes import read_scope_of
from gql_keys.security.addresses import canonical_address
from gql_keys.services.auth import authenticate_verifier
from gql_keys.services.verification import (
    Decision,
    SignedRequest,
    VerificationCode,
    verify,
)

PREFIX = "/authz"
_PREFIX_BYTES = PREFIX.encode()

# (status, Gate label, message) per decision; SCOPE_NOT_GRANTED may become READ_ONLY.
_ANSWERS: dict[VerificationCode, tuple[int, str, str]] = {
    VerificationCode.VALID: (200, "", ""),
    VerificationCode.KEY_NOT_FOUND: (401, "INVALID_KEY", "Invalid key provided."),
    VerificationCode.KEY_DELETED: (401, "INVALID_KEY", "Invalid key provided."),
    VerificationCode.KEY_EXPIRED: (401, "INVALID_KEY", "Invalid key provided."),
    VerificationCode.INVALID_SIGNATURE: (401, "INVALID_SIGNATURE", "Signature mismatch."),
    VerificationCode.TIMESTAMP_OUT_OF_WINDOW: (
        401,
        "REQUEST_EXPIRED",
        "Timestamp is outside the accepted window.",
    ),
    VerificationCode.REPLAYED: (401, "REQUEST_REPLAYED", "This signed request was already used."),
    VerificationCode.IP_NOT_ALLOWED: (403, "IP_FORBIDDEN", "Client address is not allowed."),
    VerificationCode.SCOPE_NOT_GRANTED: (403, "FORBIDDEN", "The key lacks the required scope."),
    VerificationCode.RATE_LIMITED: (429, "TOO_MANY_REQUESTS", "Too many requests."),
    VerificationCode.KEY_QUARANTINED: (
        403,
        "KEY_QUARANTINED",
        "The key is quarantined: it may only read and cancel orders.",
    ),
}
# A canary is answered as an unknown key, down to the code header: the caller learns nothing.
_ANSWERS[VerificationCode.CANARY_TRIPPED] = _ANSWERS[VerificationCode.KEY_NOT_FOUND]
_EMPTY_SHA512 = hashlib.sha512(b"").hexdigest()
_CODE_BYTES = {code: code.value.encode() for code in VerificationCode}
_CODE_BYTES[VerificationCode.CANARY_TRIPPED] = _CODE_BYTES[VerificationCode.KEY_NOT_FOUND]
_READ_ONLY = (403, "READ_ONLY", "The key may only read in this area.")
_INVALID_VERIFIER = (401, "INVALID_VERIFIER", "X-Verifier-Token is missing or not a verifier.")
_MISSING_HEADER = (401, "MISSING_REQUIRED_HEADER", "KEY, Timestamp and SIGN are required.")
_UNKNOWN_SCOPE = (403, "FORBIDDEN", "X-Required-Scope names no scope.")
_NO_RULE = (403, "FORBIDDEN", "No scope rule covers this request.")
_SERVER_ERROR = (503, "SERVER_ERROR", "The decision cannot be recorded now; try again.")
_BAD_ADDRESS = (
    400,
    "INVALID_CLIENT_ADDRESS",
    "X-Real-IP or the last X-Forwarded-For entry is not an IP address.",
)
_TOO_LARGE = (413, "REQUEST_TOO_LARGE", "The request body is larger than the server accepts.")

_JSON = (b"content-type", b"application/json")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_CLOSE = (b"connection", b"close")
_REQUEST_ID = REQUEST_ID_HEADER.encode()
_BODIES: dict[tuple[str, str], bytes] = {}


def _body(label: str, message: str) -> bytes:
    body = _BODIES.get((label, message))
    if body is None:
        body = json.dumps({"label": label, "message": message}).encode()
        _BODIES[(label, message)] = body
    return body


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """Request headers by (lower-case) name; repeated lines joined with commas."""
    raw = scope["headers"]
    headers: dict[bytes, bytes] = dict(raw)
    if len(headers) == len(raw):  # no name repeated: the common case, built in C
        return headers
    headers = {}
    for name, value in raw:
        previous = headers.get(name)
        headers[name] = value if previous is None else previous + b"," + value
    return headers


@functools.lru_cache(maxsize=4096)
def _global_id(type_name: str, pk: int) -> bytes:
    return encode_global_id(type_name, pk).encode()


def client_address(headers: Mapping[bytes, bytes], peer: str | None) -> str | None:
    """``X-Real-IP``, else the last ``X-Forwarded-For`` address, else the peer, parsed
    and written like the GraphQL path's (IPv4-mapped IPv6 as IPv4, no brackets), so rows
    and throttles match between doors. None when the header the gateway set is not an
    address: that gateway is misconfigured, and guessing would judge the wrong client.

    Trusted here because only a gateway holding a verifier token gets this far."""
    real_ip = headers.get(b"x-real-ip", b"").strip()
    if real_ip:
        text = real_ip.decode("latin-1")
    else:
        forwarded = headers.get(b"x-forwarded-for", b"")
        hops = [hop.strip() for hop in forwarded.split(b",") if hop.strip()]
        if not hops:
            written = canonical_address(peer) if peer else None
            return written if written is not None else (peer or "unknown")
        text = hops[-1].decode("latin-1")
    return canonical_address(text)


def _target(scope: Scope, headers: Mapping[bytes, bytes]) -> tuple[str, str, str]:
    """The partner's method, path and raw query string, per dialect."""
    method = (
        headers.get(b"x-original-method") or headers.get(b"x-forwarded-method") or b""
    ).decode("latin-1") or scope["method"]
    uri = headers.get(b"x-original-uri") or headers.get(b"x-forwarded-uri")
    if uri is not None:
        path, _, query = uri.decode("utf-8", "replace").partition("?")
        return method, path, query
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    path = raw_path[len(_PREFIX_BYTES) :].decode("utf-8", "replace")
    return method, path, scope.get("query_string", b"").decode("latin-1")


def _declared_too_large(headers: Mapping[bytes, bytes], max_bytes: int) -> bool:
    """Whether ``Content-Length`` announces more than ``max_bytes`` (unparseable: the
    server refuses such a request; otherwise the body is counted as it is read)."""
    declared = headers.get(b"content-length")
    if declared is None:
        return False
    try:
        return int(declared) > max_bytes
    except ValueError:
        return False


async def _read_body(receive: Receive, max_bytes: int) -> bytes:
    """The whole body; :class:`BodyTooLarge` as soon as it grows past ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class ForwardAuth:
    """The ASGI app mounted at ``/authz`` and ``/authz/{path}``."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.max_body_bytes = rt.settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        incoming = headers.get(_REQUEST_ID)
        request_id = request_id_for(incoming.decode("latin-1") if incoming is not None else None)
        scope.setdefault("state", {})["request_id"] = request_id
        common = (_NOSNIFF, (_REQUEST_ID, request_id.encode("ascii")))
        sender = _Sender(send, common)
        context = request_id_var.set(request_id)
        try:
            await self._check(scope, headers, receive, sender)
        except BodyTooLarge:
            if sender.started:
                raise
            # The rest of the body is not read: the connection cannot carry another request.
            await self._refuse(_Sender(send, (*common, _CLOSE)), _TOO_LARGE)
        except Exception as exc:
            if sender.started or not is_unavailable(exc):
                raise
            await self._refuse(sender, _SERVER_ERROR)
        finally:
            request_id_var.reset(context)

    async def _check(
        self, scope: Scope, headers: Mapping[bytes, bytes], receive: Receive, send: _Sender
    ) -> None:
        rt = self.rt
        if _declared_too_large(headers, self.max_body_bytes):
            raise BodyTooLarge
        token = headers.get(b"x-verifier-token")
        if await authenticate_verifier(rt, token.decode("latin-1") if token else None) is None:
            await self._refuse(send, _INVALID_VERIFIER)
            return
        key, timestamp, signature = (
            headers.get(b"key"),
            headers.get(b"timestamp"),
            headers.get(b"sign"),
        )
        if key is None or timestamp is None or signature is None:
            await self._refuse(send, _MISSING_HEADER)
            return
        method, path, query = _target(scope, headers)
        named = headers.get(b"x-required-scope")
        if named is not None:
            required = KeyScope.__members__.get(named.decode("latin-1").strip())
            if required is None:
                await self._refuse(send, _UNKNOWN_SCOPE)
                return
        else:
            required = rt.scope_rules.required_scope(method, path)
            if required is None:
                await self._refuse(send, _NO_RULE)
                return
        client = scope.get("client")
        client_ip = client_address(headers, client[0] if client else None)
        if client_ip is None:
            await self._refuse(send, _BAD_ADDRESS)
            return
        body_hash = headers.get(b"x-body-sha512")
        if body_hash is not None:
            body_sha512 = body_hash.decode("latin-1").strip()
        elif b"content-length" in headers or b"transfer-encoding" in headers:
            body = await _read_body(receive, self.max_body_bytes)
            body_sha512 = hashlib.sha512(body).hexdigest()
        else:
            body_sha512 = _EMPTY_SHA512
        request = SignedRequest(
            key=key.decode("latin-1"),
            signature=signature.decode("latin-1"),
            timestamp=timestamp.decode("latin-1"),
            method=method,
            path=path,
            query=query,
            body_sha512=body_sha512,
            client_ip=client_ip,
            required_scope=required,
        )
        try:
            decision = await verify(rt, request)
        except ServiceUnavailable:
            await self._refuse(send, _SERVER_ERROR)
            return
        await self._answer(send, decision, required)

    async def _refuse(self, send: _Sender, answer: tuple[int, str, str]) -> None:
        status, label, message = answer
        self.rt.metrics.authz_answers.inc(label)
        await send(status, [_JSON, (b"x-error-label", label.encode())], _body(label, message))

    async def _answer(self, send: _Sender, decision: Decision, required: KeyScope) -> None:
        code = decision.code
        status, label, message = _ANSWERS[code]
        record = decision.record
        if code is VerificationCode.SCOPE_NOT_GRANTED and record is not None:
            read = read_scope_of(required)
            if read is not None and read != required and read in record.scopes:
                status, label, message = _READ_ONLY
        response_headers = [(b"x-verification-code", _CODE_BYTES[code])]
        if decision.allowed and record is not None:
            response_headers.append((b"x-api-key-id", _global_id("ApiKey", record.id)))
            response_headers.append((b"x-account-id", _global_id("User", record.user_id)))
        rate = decision.rate  # only when the key's quota was counted (the contract's rule)
        if rate is not None:
            response_headers += [
                (b"x-ratelimit-limit", str(rate.limit).encode()),
                (b"x-ratelimit-remaining", str(rate.remaining).encode()),
                (b"x-ratelimit-reset", str(math.ceil(rate.reset_at)).encode()),
            ]
        if code is VerificationCode.RATE_LIMITED and decision.retry_at is not None:
            wait = max(1, math.ceil(decision.retry_at - self.rt.clock.time()))
            response_headers.append((b"retry-after", str(wait).encode()))
        self.rt.metrics.authz_answers.inc(label or "OK")
        if status == 200:
            await send(200, response_headers, b"")
        else:
            response_headers += [_JSON, (b"x-error-label", label.encode())]
            await send(status, response_headers, _body(label, message))


class _Sender:
    """Sends one whole response, with the headers every answer of this request carries."""

    __slots__ = ("_common", "_send", "started")

    def __init__(self, send: Send, common: tuple[tuple[bytes, bytes], ...]) -> None:
        self._send = send
        self._common = common
        self.started = False

    async def __call__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.started = True
        headers += self._common
        headers.append((b"content-length", str(len(body)).encode()))
        start: Message = {"type": "http.response.start", "status": status, "headers": headers}
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body})
