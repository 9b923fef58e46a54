"""Document limits and disclosure switches, all read from settings.

A document may not carry more than ``max_aliases`` aliased fields (no hundreds of
``login`` or ``verifyTwoFactor`` attempts in one request), more than ``max_tokens``
tokens, or nest deeper than ``max_query_depth``. In production introspection is off.
None of these change the schema's SDL.
"""

from __future__ import annotations

from collections.abc import Callable

from graphql import ASTValidationRule
from graphql.validation import MaxIntrospectionDepthRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from gql_keys.settings import Settings

ExtensionFactory = type[SchemaExtension] | Callable[[], SchemaExtension]


def validation_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The extra validation rules, built once so the validation cache can hit."""
    rules = [
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        # The depth limiter skips ``__schema``; this bounds its fields/type cycles.
        MaxIntrospectionDepthRule,
    ]
    if settings.production:
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


def limit_extensions(settings: Settings) -> list[ExtensionFactory]:
    """Factories of the Strawberry extensions that enforce ``settings``' limits."""
    rules = validation_rules(settings)
    max_tokens = settings.max_tokens
    return [
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: AddValidationRules(rules),
    ]
