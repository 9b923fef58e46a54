"""Error logging for the schema: expected errors are quiet, unexpected ones logged once."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.types import ExecutionContext

from gql_keys.graphql.error_extension import classify, request_id_of

log = logging.getLogger("gql_keys.graphql")


class QuietSchema(strawberry.Schema):
    """Replaces Strawberry's ``strawberry.execution`` logging, which prints raw messages,
    and executes without "Did you mean …" suggestions in variable-coercion errors."""

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        kwargs["hide_suggestions"] = True  # graphql-core's execute() argument
        return kwargs

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        context = execution_context.context if execution_context is not None else None
        for error in errors:
            if classify(error) is not None:
                continue
            original = error.original_error
            log.error(
                "unexpected error in %s",
                ".".join(str(p) for p in error.path or ()) or "operation",
                exc_info=(type(original), original, original.__traceback__)
                if original is not None
                else None,
                extra={"request_id": request_id_of(context)},
            )
