"""Whether an operation asks for a field below the one being resolved.

A list resolver that knows a page's nested objects are wanted can load them in one batch
and hand out plain values, instead of leaving one ``async`` resolver per row; one that
knows they are not wanted skips the work.
"""

from __future__ import annotations

from collections.abc import Iterable

from gql_keys.graphql.context import Info
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)


def _fields(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterable[FieldNode]:
    """The fields of a selection set, fragments spread (each named fragment once)."""
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                seen.add(name)
                yield from _fields(fragment.selection_set, fragments, seen)


def selects(info: Info, path: tuple[str, ...]) -> bool:
    """Whether the field being resolved selects ``path`` (field names, not aliases),
    through any fragment. A ``@skip`` or ``@include`` is not evaluated: a field it
    leaves out still counts as asked for, which only costs the work it would save."""
    raw = info._raw_info  # graphql-core's info: the field's nodes and the fragments
    fragments = raw.fragments
    level: list[FieldNode] = list(raw.field_nodes)
    for name in path:
        level = [
            field
            for node in level
            for field in _fields(node.selection_set, fragments, set())
            if field.name.value == name
        ]
        if not level:
            return False
    return True
