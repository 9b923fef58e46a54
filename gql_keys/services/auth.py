"""Turning a bearer token into a principal: a dashboard session or a service token."""

from __future__ import annotations

from datetime import timedelta

from gql_keys.principals import Principal, ServicePrincipal, ServiceRole, UserPrincipal
from gql_keys.repositories import sessions as repo
from gql_keys.runtime import Runtime
from gql_keys.security.tokens import SERVICE_TOKEN_PREFIX, SESSION_TOKEN_PREFIX, token_digest

MAX_TOKEN_LENGTH = 256


def bearer_token(authorization: str | None) -> str | None:
    """The token in an ``Authorization: Bearer …`` value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


async def authenticate_token(rt: Runtime, token: str, *, in_use: bool = True) -> Principal | None:
    """The principal a token stands for; None when it is unknown, expired, revoked or (a
    session) idle for ``session_idle_seconds``.

    ``in_use``: the token comes with an HTTP request, which keeps its session alive. A
    WebSocket's credential checks pass False: an open socket (the dashboard always holds
    one) must not keep an unattended session signed in, so its sockets close (4401) at
    the first check after the session went idle."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = token_digest(token)
    if token.startswith(SERVICE_TOKEN_PREFIX):
        # Cached for a few seconds: gateways present their token on every verification.
        return await rt.service_token_cache.get(digest)
    if token.startswith(SESSION_TOKEN_PREFIX):
        now = rt.clock.now()
        session = await repo.live_session_by_digest(digest, now)
        if session is None:
            return None
        idle = timedelta(seconds=rt.settings.session_idle_seconds)
        if session.last_seen_at + idle <= now:
            return None
        # Refresh the idle timer at most once a minute per session.
        if in_use and now - session.last_seen_at > timedelta(seconds=60):
            await repo.touch_session(session.id, now)
        return UserPrincipal(user_id=session.user_id, session_id=session.id)
    return None


async def authenticate_verifier(rt: Runtime, token: str | None) -> ServicePrincipal | None:
    """The verifier service token's principal; None for anything else (absent, unknown,
    revoked, a monitor token, a session token, a partner's key or secret)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.startswith(SERVICE_TOKEN_PREFIX):
        return None
    principal = await rt.service_token_cache.get(token_digest(token))
    if principal is None or principal.role is not ServiceRole.VERIFIER:
        return None
    return principal
