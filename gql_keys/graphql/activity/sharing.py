"""One execution of an event for every socket that would compute the same result.

graphql-core executes a subscription's selection once per subscriber and event. A user
with 50 dashboard tabs gets each event of their keys 50 times and every monitor gets all
of them, so a worker holding 5,000 tabs ran 51 executions per event, each ~180 us of
CPU (and a database read for ``apiKey``): the one core saturated below 100 events a
second. Here the sockets of one event share its execution when they would compute the
same thing: the same audience (the principal), the same operation (the parser cache hands
every socket the same document for the same text) and the same variables. The first one
executes; the others get the same result object, whose JSON the WebSocket adapter then
encodes once (:mod:`gql_keys.graphql.ws_encoding`).

Events reach every subscriber as the same :class:`ActivityEvent` object (the hub puts one
object in every queue), so :func:`payload_for` maps it to one ``KeyActivityEvent`` for
all, which carries the per-event memo. Entries go when the event is no longer referenced.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Awaitable
from typing import Any

from gql_keys.broker.events import ActivityEvent
from gql_keys.graphql.activity.types import KeyActivityEventType
from gql_keys.graphql.execution import LeafShortcutExecutor
from gql_keys.services.activity import principal_key
from graphql import ExecutionResult, GraphQLResolveInfoHelpers, OperationDefinitionNode

_payloads: weakref.WeakKeyDictionary[ActivityEvent, KeyActivityEventType] = (
    weakref.WeakKeyDictionary()
)


def payload_for(event: ActivityEvent) -> KeyActivityEventType:
    """The one ``KeyActivityEvent`` of ``event``, shared by every subscriber."""
    payload = _payloads.get(event)
    if payload is None:
        payload = _payloads[event] = KeyActivityEventType.from_event(event)
    return payload


Shared = tuple[OperationDefinitionNode, "ExecutionResult | asyncio.Future[ExecutionResult]"]


class SharedEventExecutor(LeafShortcutExecutor):
    """Strawberry's executor (with the leaf shortcut); a subscription event it has already
    executed for the same audience, operation and variables is answered with that
    execution's result. Every operation's executor (it is the schema's only one) is freed
    as soon as it finishes: see :func:`_helpers_of`."""

    _sharing_key: tuple[int, str, str] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = _helpers_of(self)

    def build_per_event_executor(self, payload: Any) -> Any:
        key = self._sharing_key
        if key is None:
            key = self._sharing_key = self._key()
        memo: dict[object, Shared] | None = getattr(payload, "shared_results", None)
        if memo is not None and key[1]:
            found = memo.get(key)
            if found is not None and found[0] is self.operation:  # not a reused id()
                return _Executed(found[1])
        return super().build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        memo: dict[object, Shared] | None = getattr(self.root_value, "shared_results", None)
        key = self._sharing_key
        if memo is None or key is None or not key[1]:
            return result
        if isinstance(result, ExecutionResult):
            memo[key] = (self.operation, result)
            return result
        if not self.is_awaitable(result):  # incremental delivery: not for subscriptions
            return result
        # The other sockets wait for this execution, which runs as a task of its own: a
        # socket that closes meanwhile does not cancel it for the others.
        task: asyncio.Future[ExecutionResult] = asyncio.ensure_future(result)
        memo[key] = (self.operation, task)
        return _await(task)

    def _key(self) -> tuple[int, str, str]:
        principal = getattr(self.context_value, "principal", None)
        audience = principal_key(principal) if principal is not None else ""
        variables = json.dumps(self.variable_values.coerced, sort_keys=True, default=repr)
        return (id(self.operation), audience, variables)


def _helpers_of(executor: SharedEventExecutor) -> GraphQLResolveInfoHelpers:
    """graphql-core's resolver helpers, reaching ``executor`` through a weak reference.

    graphql-core builds them from bound methods of the executor it stores them on: a
    reference cycle, so every finished execution (and the context, request and response
    it reaches) waited for the garbage collector, about a fifth of a ``verifyApiRequest``.
    Resolvers use them only while their execution runs, which keeps the executor alive."""
    ref = weakref.ref(executor)

    def gather(values: Any) -> Any:
        alive = ref()
        assert alive is not None, "an execution's helpers used after it finished"
        return alive.gather_async_work(values)

    def track(values: Any) -> None:
        alive = ref()
        assert alive is not None, "an execution's helpers used after it finished"
        alive.track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)


class _Executed:
    """Stands for a per-event executor whose result another socket has (or is) computing."""

    __slots__ = ("_result",)

    def __init__(self, result: ExecutionResult | asyncio.Future[ExecutionResult]) -> None:
        self._result = result

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = self._result
        if not isinstance(result, asyncio.Future):
            return result
        return result.result() if result.done() else _await(result)


async def _await(shared: Awaitable[ExecutionResult]) -> ExecutionResult:
    return await asyncio.shield(shared)
