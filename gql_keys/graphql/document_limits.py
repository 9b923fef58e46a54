"""Document limits and disclosure switches, all read from settings.

A document may not carry more than ``max_aliases`` aliased fields (no hundreds of
``login`` or ``verifyTwoFactor`` attempts in one request), more than ``max_tokens``
tokens, or nest deeper than ``max_query_depth``. In production introspection is off.
None of these change the schema's SDL.
"""

from __future__ import annotations

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from graphql.language.visitor import SKIP, VisitorAction
from graphql.validation import MaxIntrospectionDepthRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    MaxAliasesLimiter,
    QueryDepthLimiter,
)

from gql_keys.settings import Settings

# Each one hashes a password: one request must not queue dozens of hashes.
PASSWORD_FIELDS = frozenset({"register", "login"})
_MAX_FRAGMENT_DEPTH = 16


def _password_fields(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], depth: int = 0
) -> int:
    """How many ``register``/``login`` fields a root selection set runs (through fragments)."""
    if depth > _MAX_FRAGMENT_DEPTH:
        return 0
    count = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            count += selection.name.value in PASSWORD_FIELDS
        elif isinstance(selection, InlineFragmentNode):
            count += _password_fields(selection.selection_set, fragments, depth + 1)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                count += _password_fields(fragment.selection_set, fragments, depth + 1)
    return count


class OnePasswordFieldRule(ASTValidationRule):
    """A document may hold at most one ``register`` or ``login`` (aliases and fragments
    included), so it is refused at validation, before any password is hashed."""

    def enter_document(self, node: DocumentNode, *_args: object) -> VisitorAction:
        fragments = {
            d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
        }
        count = sum(
            _password_fields(d.selection_set, fragments)
            for d in node.definitions
            if isinstance(d, OperationDefinitionNode) and d.operation is OperationType.MUTATION
        )
        if count > 1:
            self.report_error(
                GraphQLError("A document may hold at most one register or login.", node)
            )
        return SKIP


def validation_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The extra validation rules, built once so the validation cache can hit."""
    rules = [
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        # The depth limiter skips ``__schema``; this bounds its fields/type cycles.
        MaxIntrospectionDepthRule,
        OnePasswordFieldRule,
    ]
    if settings.production:
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules
