"""Strawberry's executor with a shortcut for plain leaf fields.

graphql-core resolves every field the same way: it builds a ``GraphQLResolveInfo`` (a
17-field tuple), calls the resolver (for a field without one, Strawberry's basic-field
getter, which calls ``getattr``), checks whether the result is awaitable, then walks
``complete_value`` (non-null, list, leaf, abstract, object) down to the leaf's
``coerce_output_value``. A page of 100 usage logs has about 1,100 such fields, which was
most of the time the ``usageLogs`` query took above its SQL.

For a field with no resolver of its own (Strawberry's basic field) whose type is a
scalar or an enum, the outcome depends only on the attribute and the type's output
coercion, so :class:`LeafShortcutExecutor` reads the attribute and coerces it directly.
Anything else (a null, an exception value, a coercion that fails, a field with
arguments, schema extensions that wrap resolvers) goes through graphql-core's own path,
which then produces exactly the result or the error it always did.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
from typing import Any

from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from graphql import (
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    Undefined,
    is_leaf_type,
)

# How to read a field (the source object in, the attribute out) and coerce its value.
LeafPlan = tuple[Callable[[Any], Any], Callable[[Any], Any]]


def leaf_plan(field_def: GraphQLField) -> LeafPlan | None:
    """The getter and output coercion of a basic Strawberry field of a leaf type; None
    for any other field."""
    resolve = field_def.resolve
    # Strawberry marks the resolver it gives a basic field (no resolver, no field
    # extension, no exception handler): it returns the source's attribute, info unused.
    if resolve is None or not getattr(resolve, "_is_default", False):
        return None
    field_type = field_def.type
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    if not is_leaf_type(field_type):
        return None
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    getter: Callable[[Any], Any]
    if isinstance(definition, StrawberryField) and definition.default_resolver is getattr:
        getter = attrgetter(definition.python_name)
    else:
        basic = resolve

        def getter(source: Any) -> Any:
            return basic(source, None)

    return getter, field_type.coerce_output_value


_NOT_DONE = object()
# Values that are never awaitable: no need to ask (the common case, checked by type).
_PLAIN_TYPES = frozenset({str, int, bool, float, datetime})


class LeafShortcutExecutor(StrawberryGraphQLCoreExecutionContext):
    """Resolves basic leaf fields without graphql-core's per-field machinery.

    ``execute_fields`` is graphql-core's (3.3), with the shortcut tried first for each
    field; the path of a field is only built when graphql-core's own path runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # Schema extensions with a ``resolve`` hook wrap every resolver: no shortcut.
        self._shortcuts = manager is None or not manager.middlewares
        self._plans: dict[tuple[str, str], LeafPlan | None] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if not self._shortcuts:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        leaf_value = self._leaf_value
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                value = leaf_value(parent_type, source_value, field_details_list)
                if value is not _NOT_DONE:
                    results[response_name] = value
                    continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                # Settle the awaitables other fields created: they may fail too.
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _leaf_value(
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: FieldDetailsList
    ) -> Any:
        """The completed value of a basic leaf field, or ``_NOT_DONE`` when graphql-core's
        own path has to run (another kind of field, a null, an error)."""
        node = field_details_list[0].node
        key = (parent_type.name, node.name.value)
        plans = self._plans
        if key in plans:
            plan = plans[key]
        else:
            field_def = self.schema.get_field(parent_type, node.name.value)
            plan = plans[key] = leaf_plan(field_def) if field_def is not None else None
        if plan is None or node.arguments:
            return _NOT_DONE
        getter, coerce = plan
        try:
            value = getter(source)
            if value is None:
                return _NOT_DONE
            if value.__class__ not in _PLAIN_TYPES and (
                isinstance(value, Exception) or self.is_awaitable(value)
            ):
                return _NOT_DONE
            coerced = coerce(value)
        except Exception:  # graphql-core's own path raises it again and reports it
            return _NOT_DONE
        if coerced is None or coerced is Undefined:
            return _NOT_DONE
        return coerced
