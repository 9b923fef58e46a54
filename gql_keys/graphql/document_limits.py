"""Document limits and disclosure switches, all read from settings.

A document may not carry more than ``max_aliases`` aliased fields (no hundreds of
``login`` or ``verifyTwoFactor`` attempts in one request), more than ``max_tokens``
tokens, more than ``max_expanded_fields`` fields once its fragments are expanded, or nest
deeper than ``max_query_depth``. In production introspection is off.
None of these change the schema's SDL.
"""

from __future__ import annotations

from graphql.language.visitor import SKIP, VisitorAction
from graphql.validation import (
    MaxIntrospectionDepthRule,
    NoSchemaIntrospectionCustomRule,
    ValidationContext,
)
from strawberry.extensions import (
    MaxAliasesLimiter,
    QueryDepthLimiter,
)

from gql_keys.settings import Settings
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


def expanded_fields(document: DocumentNode) -> int:
    """How many fields the document's operations select once every fragment spread is
    expanded. Each fragment is sized once, so this is linear in the document even where
    the expansion is exponential (``...F ... on T { ...F }`` at every level)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    sizes: dict[str, int] = {}

    def size(selections: SelectionSetNode) -> int:
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += 1
                if selection.selection_set is not None:
                    total += size(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in sizes:
                    sizes[name] = 0  # in progress: a cycle (refused by graphql-core) adds 0
                    fragment = fragments.get(name)
                    if fragment is not None:
                        sizes[name] = size(fragment.selection_set)
                total += sizes[name]
        return total

    return sum(
        size(d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


def expansion_limit_rule(limit: int) -> type[ASTValidationRule]:
    class ExpansionLimitRule(ASTValidationRule):
        """Refuses a document whose expanded fields exceed ``limit``."""

        def enter_document(self, node: DocumentNode, *_args: object) -> VisitorAction:
            if expanded_fields(node) > limit:
                self.report_error(
                    GraphQLError(f"The document selects more than {limit} fields.", node)
                )
            return SKIP

    return ExpansionLimitRule


def within_expansion_limit(rule: type[ASTValidationRule], limit: int) -> type[ASTValidationRule]:
    """``rule`` run only on documents within the expansion limit. Strawberry's depth and
    alias limiters walk every fragment spread anew in their constructors: on a document
    that doubles its spreads at each level they would take exponential time."""

    class Guarded(rule):  # type: ignore[misc, valid-type]
        def __init__(self, context: ValidationContext) -> None:
            if expanded_fields(context.document) > limit:
                ASTValidationRule.__init__(self, context)
            else:
                super().__init__(context)

    Guarded.__name__ = f"Guarded{rule.__name__}"
    return Guarded


def validation_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The extra validation rules, built once so the validation cache can hit."""
    limit = settings.max_expanded_fields
    limiters = [
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
    ]
    rules = [
        expansion_limit_rule(limit),
        *(within_expansion_limit(rule, limit) for rule in limiters),
        # The depth limiter skips ``__schema``; this bounds its fields/type cycles.
        MaxIntrospectionDepthRule,
        OnePasswordFieldRule,
    ]
    if settings.production:
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules
