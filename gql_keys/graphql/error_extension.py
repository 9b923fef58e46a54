"""Turn exceptions raised by resolvers into coded top-level errors; mask the unexpected."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult as StrawberryExecutionResult

from gql_keys.domain_errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    ServiceUnavailable,
    Unauthenticated,
)
from gql_keys.global_ids import InvalidGlobalId
from graphql import ExecutionResult as GraphQLExecutionResult

log = logging.getLogger("gql_keys.graphql")

INTERNAL_MESSAGE = "Internal server error."


def classify(error: GraphQLError) -> str | None:
    """The ``extensions.code`` for an error we raised on purpose; None when unexpected."""
    original = error.original_error
    if original is None:
        return (error.extensions or {}).get("code") or "GRAPHQL_VALIDATION_FAILED"
    if isinstance(original, Unauthenticated):
        return "UNAUTHENTICATED"
    if isinstance(original, Forbidden):
        return "FORBIDDEN"
    if isinstance(original, DomainError):
        return original.code.value
    if isinstance(original, InvalidInput | InvalidGlobalId):
        return "INVALID_INPUT"
    if isinstance(original, ServiceUnavailable):
        return "SERVICE_UNAVAILABLE"
    if isinstance(original, GraphQLError):
        return (original.extensions or {}).get("code") or "GRAPHQL_VALIDATION_FAILED"
    return None


# graphql-core's messages that quote a value the caller sent (or suggest schema names):
# what follows the marker is dropped.
_ECHOES = (
    re.compile(r" Did you mean .*\Z", re.DOTALL),
    re.compile(r", found: .*\Z", re.DOTALL),
    re.compile(r"(cannot represent[^:]*): .*\Z", re.DOTALL),
)
_ENUM_VALUE = re.compile(r"Value .* does not exist in ('[^']*') enum\.", re.DOTALL)


def without_echoes(message: str) -> str:
    """``message`` without the input values it quotes and without suggestions."""
    for pattern in _ECHOES:
        message = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + ".", message)
    message = _ENUM_VALUE.sub(r"The value is not in the \1 enum.", message)
    return message.replace("..", ".")


def request_id_of(context: Any) -> str:
    return str(getattr(context, "request_id", "") or "")


class ErrorCodes(SchemaExtension):
    """Give each expected error its code; replace unexpected ones with a generic message."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if not isinstance(result, GraphQLExecutionResult | StrawberryExecutionResult):
            return
        if not result.errors:
            return
        request_id = request_id_of(self.execution_context.context)
        result.errors = [self._translate(error, request_id) for error in result.errors]

    @staticmethod
    def _translate(error: GraphQLError, request_id: str) -> GraphQLError:
        code = classify(error)
        if code is None:
            return GraphQLError(
                message=INTERNAL_MESSAGE,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            )
        extensions = dict(error.extensions or {})
        extensions["code"] = code
        original = error.original_error
        message = (
            str(original) if isinstance(original, Exception) and str(original) else error.message
        )
        if original is None:
            message = without_echoes(error.message)
        elif isinstance(original, GraphQLError) and error.message.endswith(original.message):
            # Variable coercion: "Variable '$input' has invalid value at .path: reason";
            # keep the variable, the path and the reason, never the values sent.
            prefix = error.message[: len(error.message) - len(original.message)]
            message = prefix + without_echoes(original.message)
        if isinstance(original, InvalidGlobalId):
            message = "Not a valid id."
        if isinstance(original, DomainError):
            message = original.message
            if original.field is not None:
                extensions["field"] = list(original.field)
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )
