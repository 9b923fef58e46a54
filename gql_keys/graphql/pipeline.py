"""The schema extensions every operation runs through: Strawberry's own, in order.

Error codes first (outermost, so they see every error), the token limit for the parser,
our validation rules, then the parse and validation caches. The rules are built once, so
the validation cache (keyed on the schema, the parsed document and the rules) hits for a
document it has seen; the parser cache hands out the same document for the same text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from gql_keys.graphql.document_limits import validation_rules
from gql_keys.graphql.error_extension import ErrorCodes
from gql_keys.settings import Settings
from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, validate

CACHE_SIZE = 1024


def validate_document(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    """Strawberry's validation (its two rules added), without "Did you mean …"
    suggestions: they would map the schema for callers without introspection."""
    rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    return validate(schema, document, rules, hide_suggestions=True)


_cached_validate_document = functools.lru_cache(maxsize=CACHE_SIZE)(validate_document)


class QuietValidationCache(ValidationCache):
    """Strawberry's ``ValidationCache``, validating without suggestions."""

    def __init__(self) -> None:
        super().__init__(maxsize=CACHE_SIZE)
        self.cached_validate_document = _cached_validate_document


def operation_extensions(settings: Settings) -> Sequence[Callable[[], SchemaExtension]]:
    """Factories Strawberry calls once per request (extensions hold per-request state)."""
    rules = validation_rules(settings)
    max_tokens = settings.max_tokens
    return (
        ErrorCodes,
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        QuietValidationCache,
    )
