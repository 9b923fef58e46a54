"""``keyActivity``: live events of the caller's keys (a monitor: of every key)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from starlette.websockets import WebSocket

from gql_keys.broker.hub import Interest, SlowConsumer
from gql_keys.domain_errors import DomainError, ErrorCode, Forbidden, Unauthenticated
from gql_keys.graphql.activity.sharing import payload_for
from gql_keys.graphql.activity.transport import close_socket
from gql_keys.graphql.activity.types import KeyActivityEventType
from gql_keys.graphql.context import Info
from gql_keys.graphql.enums import ActivityKind
from gql_keys.graphql.node import decode_int_id
from gql_keys.services.activity import activity_filter
from gql_keys.sockets import CLOSE_SLOW_CONSUMER
from graphql import GraphQLError

MAX_KEY_IDS = 100


def _close_later(info: Info) -> None:
    """Close a slow consumer's socket (4008) from outside the event fan-out."""
    ws = info.context.request
    if isinstance(ws, WebSocket):
        info.context.rt.sockets.spawn_close(
            close_socket(ws, CLOSE_SLOW_CONSUMER, "Slow consumer: event queue overflowed")
        )


async def _accepts(
    info: Info,
    key_ids: list[strawberry.ID] | None,
    kinds: list[ActivityKind] | None,
    sub_account_id: strawberry.ID | None,
) -> Interest:
    ids: list[int] | None = None
    if key_ids is not None:
        if len(key_ids) > MAX_KEY_IDS:
            raise DomainError(
                ErrorCode.INVALID_INPUT, f"keyIds takes at most {MAX_KEY_IDS} ids.", ("keyIds",)
            )
        ids = []
        for global_id in key_ids:
            pk = decode_int_id(global_id, "ApiKey")
            if pk is None:
                raise DomainError(ErrorCode.NOT_FOUND, "No such API key.", ("keyIds",))
            ids.append(pk)
    wanted = set(kinds) if kinds is not None else None
    sub_account: int | None = None
    if sub_account_id is not None:
        sub_account = decode_int_id(sub_account_id, "SubAccount")
        if sub_account is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No such sub-account.", ("subAccountId",))
    return await activity_filter(info.context.principal, ids, wanted, sub_account)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Live key activity. keyIds null: every key the caller may watch (and "
        "account events such as TWO_FACTOR_FAILED); kinds null: every kind; subAccountId: "
        "only that sub-account's keys (and its events)."
    )
    async def key_activity(
        self,
        info: Info,
        key_ids: list[strawberry.ID] | None = None,
        kinds: list[ActivityKind] | None = None,
        sub_account_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[KeyActivityEventType, None]:
        try:
            accepts = await _accepts(info, key_ids, kinds, sub_account_id)
        except DomainError as exc:
            # Subscription results bypass the ErrorCodes extension: code the error here.
            raise GraphQLError(exc.message, extensions={"code": exc.code.value}) from None
        except Unauthenticated as exc:
            raise GraphQLError(str(exc), extensions={"code": "UNAUTHENTICATED"}) from None
        except Forbidden as exc:
            raise GraphQLError(str(exc), extensions={"code": "FORBIDDEN"}) from None
        hub = info.context.rt.hub
        subscriber = hub.subscribe(accepts, on_overflow=lambda: _close_later(info))
        try:
            while True:
                try:
                    event = await subscriber.next()
                except SlowConsumer:
                    return
                yield payload_for(event)
        finally:
            hub.unsubscribe(subscriber)
