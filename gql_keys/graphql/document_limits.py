"""Document limits and disclosure switches, all read from settings.

A document may not carry more than ``max_aliases`` aliased fields (no hundreds of
``login`` or ``verifyTwoFactor`` attempts in one request), more than ``max_tokens``
tokens, or nest deeper than ``max_query_depth``. In production introspection is off.
None of these change the schema's SDL.
"""

from __future__ import annotations

from graphql import ASTValidationRule
from graphql.validation import MaxIntrospectionDepthRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    MaxAliasesLimiter,
    QueryDepthLimiter,
)

from gql_keys.settings import Settings


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
