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

# Each one hashes or checks a password with argon2: one request must not queue dozens.
PASSWORD_FIELDS = frozenset(
    {"register", "login", "changePassword", "beginTwoFactorSetup", "disableTwoFactor"}
)


def _password_fields(
    selections: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    counted: dict[str, int],
) -> int:
    """How many password fields a root selection set runs, through fragments at any
    depth (no cap). Every spread counts its fragment again (failing closed); each
    fragment is walked once, its count kept in ``counted``, so this stays linear in the
    document, and a fragment met again while being walked (a cycle) counts 0."""
    count = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            count += selection.name.value in PASSWORD_FIELDS
        elif isinstance(selection, InlineFragmentNode):
            count += _password_fields(selection.selection_set, fragments, counted)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in counted:
                fragment = fragments.get(name)
                counted[name] = 0  # in progress: a cycle back here adds nothing
                if fragment is not None:
                    counted[name] = _password_fields(fragment.selection_set, fragments, counted)
            count += counted[name]
    return count


class OnePasswordFieldRule(ASTValidationRule):
    """A document may hold at most one field that hashes or checks a password
    (``PASSWORD_FIELDS``; aliases and fragments included), so more is refused at
    validation, before any password is hashed."""

    def enter_document(self, node: DocumentNode, *_args: object) -> VisitorAction:
        fragments = {
            d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
        }
        count = sum(
            _password_fields(d.selection_set, fragments, {})
            for d in node.definitions
            if isinstance(d, OperationDefinitionNode) and d.operation is OperationType.MUTATION
        )
        if count > 1:
            self.report_error(
                GraphQLError(
                    "A document may hold at most one register, login, changePassword,"
                    " beginTwoFactorSetup or disableTwoFactor.",
                    node,
                )
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
