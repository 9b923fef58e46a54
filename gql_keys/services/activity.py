"""Live key activity: who may watch which events, and ending a session's sockets.

A dashboard user watches events of their own keys (and account events such as
``TWO_FACTOR_FAILED`` addressed to them); a ``monitor`` service token watches all.
Verifier tokens and API keys may not subscribe. Asking for a key id that is not the
user's is ``NOT_FOUND`` on that subscription (reported like a missing key).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from gql_keys.broker.events import ActivityEvent, ActivityKind, ControlKind, new_event_id
from gql_keys.broker.hub import Interest
from gql_keys.domain_errors import DomainError, ErrorCode, Forbidden, Unauthenticated
from gql_keys.principals import Principal, ServicePrincipal, ServiceRole, UserPrincipal
from gql_keys.repositories import keys as repo
from gql_keys.repositories import sub_accounts as sub_accounts_repo
from gql_keys.runtime import Runtime

PUBLIC_KINDS = frozenset(ActivityKind)


def may_subscribe(principal: Principal | None) -> bool:
    """Only users and monitor service tokens may open an activity WebSocket."""
    if isinstance(principal, UserPrincipal):
        return True
    return isinstance(principal, ServicePrincipal) and principal.role == ServiceRole.MONITOR


def principal_key(principal: Principal) -> str:
    """The name connections are counted under (per user, per service token)."""
    if isinstance(principal, UserPrincipal):
        return f"user:{principal.user_id}"
    if isinstance(principal, ServicePrincipal):
        return f"service:{principal.token_id}"
    return f"api-key:{principal.api_key_id}"


async def activity_filter(
    principal: Principal | None,
    key_ids: Sequence[int] | None,
    kinds: Collection[ActivityKind] | None,
    sub_account_id: int | None = None,
) -> Interest:
    """Which events this subscription receives: a user's are only ever of their own
    account (the hub asks it about nothing else), a monitor's of every account.

    ``key_ids`` None means every key the principal may see plus account events;
    a list restricts to events of those keys. ``kinds`` None means every public kind.
    ``sub_account_id`` restricts to events of that sub-account (a user's own: another's
    is ``NOT_FOUND`` like a missing one).
    """
    if principal is None:
        raise Unauthenticated()
    if not may_subscribe(principal):
        raise Forbidden("Only a dashboard user or a monitor service token may subscribe.")
    wanted_kinds = frozenset(kinds) & PUBLIC_KINDS if kinds else PUBLIC_KINDS
    wanted_keys = frozenset(key_ids) if key_ids is not None else None
    if isinstance(principal, UserPrincipal) and wanted_keys:
        owned = await repo.owned_key_ids(principal.user_id, list(wanted_keys))
        if owned != wanted_keys:
            raise DomainError(ErrorCode.NOT_FOUND, "No such API key.", ("keyIds",))
    if (
        isinstance(principal, UserPrincipal)
        and sub_account_id is not None
        and await sub_accounts_repo.get_live(sub_account_id, principal.user_id) is None
    ):
        raise DomainError(ErrorCode.NOT_FOUND, "No such sub-account.", ("subAccountId",))
    owner = principal.user_id if isinstance(principal, UserPrincipal) else None

    def accepts(event: ActivityEvent) -> bool:
        if event.kind not in wanted_kinds:
            return False
        if owner is not None and event.owner_id != owner:
            return False
        if sub_account_id is not None and event.sub_account_id != sub_account_id:
            return False
        return wanted_keys is None or event.api_key_id in wanted_keys

    return Interest(accepts, frozenset([owner]) if owner is not None else None)


async def end_session(rt: Runtime, session_id: int) -> None:
    """Close the WebSockets of a session that logged out, on every worker.

    Call after the session row is revoked (and its transaction committed).
    """
    rt.sockets.close_session(session_id)
    await rt.broker.publish(
        [
            ActivityEvent(
                id=new_event_id(int(rt.clock.time() * 1e9)),
                kind=ControlKind.SESSION_ENDED,
                occurred_at=rt.clock.now(),
                owner_id=None,
                session_id=session_id,
            )
        ]
    )
