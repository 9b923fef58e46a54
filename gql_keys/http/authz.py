"""``/authz``: forward authentication for Envoy ``ext_authz``, nginx ``auth_request`` and
Traefik ForwardAuth, answering with the same decision as ``verifyApiRequest``.

A plain ASGI endpoint (every method, no GraphQL): it reads what the gateway saw of the
partner's request from the check request, asks the verification service, and answers in
Gate's error format. The order: verifier token (401 ``INVALID_VERIFIER``), a trusted
header given twice (400 ``INVALID_REQUEST``), signature headers (401
``MISSING_REQUIRED_HEADER``), the method (400 ``INVALID_REQUEST`` when it is not a token
of letters, or the two dialects name different ones) and path (400 ``INVALID_PATH``
outside :mod:`~gql_keys.security.request_target`'s grammar, whoever names the scope),
required scope (403 ``FORBIDDEN`` when no rule covers the path), client address (400
``INVALID_REQUEST`` when ``X-Real-IP`` and ``X-Forwarded-For`` disagree), a body that
does not hash to ``X-Body-Sha512`` (400 ``INVALID_REQUEST``), then the decision, answered
only once its usage row is durable (503 ``SERVER_ERROR`` when it cannot be). The
refusals before the decision write no row: no key was judged. An ambiguous check
request is refused, never guessed at: a gateway that forwards a partner's own copies of
these headers would otherwise let the partner choose what is verified.

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
from gql_keys.security.request_target import is_plain_path, method_token
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
    VerificationCode.ACCOUNT_LOCKED: (403, "ACCOUNT_LOCKED", "The key's account is locked."),
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
_INVALID_PATH = (
    400,
    "INVALID_PATH",
    "The path is not in its plain spelling (no ';', '\\', whitespace, control or non-ASCII "
    "characters, double or %u encoding, '.' or '..' segments).",
)
_REPEATED = (400, "INVALID_REQUEST", "A header the gateway vouches for appears more than once.")
_TWO_METHODS = (
    400,
    "INVALID_REQUEST",
    "X-Original-Method and X-Forwarded-Method name different methods.",
)
_TWO_URIS = (400, "INVALID_REQUEST", "X-Original-URI and X-Forwarded-Uri name different URIs.")
_BAD_METHOD = (400, "INVALID_REQUEST", "The method is not an HTTP method of 1 to 16 letters.")
_TWO_ADDRESSES = (
    400,
    "INVALID_REQUEST",
    "X-Real-IP is not the last X-Forwarded-For address.",
)
_BODY_MISMATCH = (400, "INVALID_REQUEST", "The body does not hash to X-Body-Sha512.")

# Headers the verifier token makes trusted: each may appear once (X-Forwarded-For is a
# list, and may be split over lines).
_ONCE = frozenset(
    {
        b"x-original-method",
        b"x-forwarded-method",
        b"x-original-uri",
        b"x-forwarded-uri",
        b"x-real-ip",
        b"x-body-sha512",
        b"x-required-scope",
        b"key",
        b"timestamp",
        b"sign",
    }
)

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


class _Refused(Exception):
    """A check request refused before any decision, with its answer."""

    def __init__(self, answer: tuple[int, str, str]) -> None:
        super().__init__(answer[1])
        self.answer = answer


def _headers(scope: Scope) -> tuple[dict[bytes, bytes], bool]:
    """Request headers by (lower-case) name, repeated lines joined with commas; and
    whether a header of :data:`_ONCE` was repeated."""
    raw = scope["headers"]
    headers: dict[bytes, bytes] = dict(raw)
    if len(headers) == len(raw):  # no name repeated: the common case, built in C
        return headers, False
    headers = {}
    repeated = False
    for name, value in raw:
        previous = headers.get(name)
        if previous is None:
            headers[name] = value
        else:
            headers[name] = previous + b"," + value
            repeated = repeated or name in _ONCE
    return headers, repeated


@functools.lru_cache(maxsize=4096)
def _global_id(type_name: str, pk: int) -> bytes:
    return encode_global_id(type_name, pk).encode()


def client_address(headers: Mapping[bytes, bytes], peer: str | None) -> str | None:
    """``X-Real-IP``, else the last ``X-Forwarded-For`` address, else the peer, parsed
    and written like the GraphQL path's (IPv4-mapped IPv6 as IPv4, no brackets), so rows
    and throttles match between doors. None when the header the gateway set is not an
    address: that gateway is misconfigured, and guessing would judge the wrong client.
    :class:`_Refused` when both headers are sent and name different clients.

    Trusted here because only a gateway holding a verifier token gets this far."""
    real_ip = headers.get(b"x-real-ip", b"").strip()
    forwarded = headers.get(b"x-forwarded-for")
    last = b""
    if forwarded is not None:
        last = forwarded.rstrip(b", \t").rsplit(b",", 1)[-1].strip()
    if real_ip:
        address = canonical_address(real_ip.decode("latin-1"))
        if last and address is not None and canonical_address(last.decode("latin-1")) != address:
            raise _Refused(_TWO_ADDRESSES)
        return address
    if last:
        return canonical_address(last.decode("latin-1"))
    written = canonical_address(peer) if peer else None
    return written if written is not None else (peer or "unknown")


def _target(scope: Scope, headers: Mapping[bytes, bytes]) -> tuple[str, str, str]:
    """The partner's method (upper-cased), path and raw query string, per dialect;
    :class:`_Refused` when they are ambiguous or outside the grammar."""
    named = headers.get(b"x-original-method")
    other = headers.get(b"x-forwarded-method")
    if named is None:
        named = other
    elif other is not None and other.upper() != named.upper():
        raise _Refused(_TWO_METHODS)
    method = method_token(named.decode("latin-1") if named is not None else scope["method"])
    if method is None:
        raise _Refused(_BAD_METHOD)
    uri = headers.get(b"x-original-uri")
    other = headers.get(b"x-forwarded-uri")
    if uri is None:
        uri = other
    elif other is not None and other != uri:
        raise _Refused(_TWO_URIS)
    if uri is not None:
        # A byte over 0x7E in the path fails the grammar however it is decoded.
        raw, _, raw_query = uri.partition(b"?")
        path, query = raw.decode("latin-1"), raw_query.decode("utf-8", "replace")
    else:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        path = raw_path[len(_PREFIX_BYTES) :].decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
    if not is_plain_path(path):
        raise _Refused(_INVALID_PATH)
    return method, path, query


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


def _announced_body_sha512(headers: Mapping[bytes, bytes]) -> str | None:
    """With no body, or one announced as empty (nginx sends "Content-Length: 0" with every
    check; the HTTP server reads no body past it), ``X-Body-Sha512`` or the empty body's
    hash, without reading; None when a body has to be read."""
    if b"transfer-encoding" in headers or headers.get(b"content-length", b"0") != b"0":
        return None
    claimed = headers.get(b"x-body-sha512")
    return _EMPTY_SHA512 if claimed is None else claimed.decode("latin-1").strip()


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
        headers, repeated = _headers(scope)
        incoming = headers.get(_REQUEST_ID)
        request_id = request_id_for(incoming.decode("latin-1") if incoming is not None else None)
        scope.setdefault("state", {})["request_id"] = request_id
        common = (_NOSNIFF, (_REQUEST_ID, request_id.encode("ascii")))
        sender = _Sender(send, common)
        context = request_id_var.set(request_id)
        try:
            await self._check(scope, headers, repeated, receive, sender)
        except _Refused as refused:
            await self._refuse(sender, refused.answer)
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
        self,
        scope: Scope,
        headers: Mapping[bytes, bytes],
        repeated: bool,
        receive: Receive,
        send: _Sender,
    ) -> None:
        """Decide on the check request and answer; :class:`_Refused` for one refused
        before any decision."""
        rt = self.rt
        if _declared_too_large(headers, self.max_body_bytes):
            raise BodyTooLarge
        token = headers.get(b"x-verifier-token")
        if await authenticate_verifier(rt, token.decode("latin-1") if token else None) is None:
            raise _Refused(_INVALID_VERIFIER)
        if repeated:
            raise _Refused(_REPEATED)
        key, timestamp, signature = (
            headers.get(b"key"),
            headers.get(b"timestamp"),
            headers.get(b"sign"),
        )
        if key is None or timestamp is None or signature is None:
            raise _Refused(_MISSING_HEADER)
        method, path, query = _target(scope, headers)
        named = headers.get(b"x-required-scope")
        if named is not None:
            required = KeyScope.__members__.get(named.decode("latin-1").strip())
            if required is None:
                raise _Refused(_UNKNOWN_SCOPE)
        else:
            required = rt.scope_rules.required_scope(method, path)
            if required is None:
                raise _Refused(_NO_RULE)
        client = scope.get("client")
        client_ip = client_address(headers, client[0] if client else None)
        if client_ip is None:
            raise _Refused(_BAD_ADDRESS)
        body_sha512 = _announced_body_sha512(headers)
        if body_sha512 is None:
            body_sha512 = await self._body_sha512(headers, receive)
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
            raise _Refused(_SERVER_ERROR) from None
        await self._answer(send, decision, required)

    async def _body_sha512(self, headers: Mapping[bytes, bytes], receive: Receive) -> str:
        """``X-Body-Sha512``, else the hash of the body read in full. :class:`_Refused`
        when a body is sent that the header's hash does not match."""
        claimed = headers.get(b"x-body-sha512")
        body = await _read_body(receive, self.max_body_bytes)
        actual = hashlib.sha512(body).hexdigest()
        if claimed is None:
            return actual
        claim = claimed.decode("latin-1").strip()
        if body and claim.lower() != actual:
            raise _Refused(_BODY_MISMATCH)
        return claim

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
            if record.sub_account_id is None:
                response_headers.append((b"x-account-id", _global_id("User", record.user_id)))
            else:
                response_headers += [
                    (b"x-account-id", _global_id("SubAccount", record.sub_account_id)),
                    (b"x-master-account-id", _global_id("User", record.user_id)),
                ]
        rate = decision.rate  # only when the key's quota was counted (the contract's rule)
        if rate is not None:
            response_headers += [
                (b"x-ratelimit-limit", b"%d" % rate.limit),
                (b"x-ratelimit-remaining", b"%d" % rate.remaining),
                (b"x-ratelimit-reset", b"%d" % math.ceil(rate.reset_at)),
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
        headers.append((b"content-length", b"%d" % len(body)))
        start: Message = {"type": "http.response.start", "status": status, "headers": headers}
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body})
