"""The schema extensions every operation runs through: Strawberry's own, in order.

Error codes first (outermost, so they see every error), the token limit for the parser,
our validation rules, then the parse and validation caches. The rules are built once, so
the validation cache (keyed on the schema, the parsed document and the rules) hits for a
document it has seen; the parser cache hands out the same document for the same text,
so the validation cache finds it by identity (see :class:`ValidationByIdentity`).
"""

from __future__ import annotations

from collections import OrderedDict
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


_Rules = tuple[type[ASTValidationRule], ...]


class ValidationByIdentity:
    """:func:`validate_document`'s errors, least recently used out past ``maxsize``,
    found by the schema's and the document's identity and the rules' value.

    An ``lru_cache`` keyed on the document hashes it on every lookup, and graphql-core's
    nodes hash all their fields, so every node of the document is visited per request.
    The parser cache hands out the same document object for the same text, so its
    identity finds it; an entry holds its schema and document, so their ids cannot be
    reused while it lives. A document parsed anew (evicted from the parser cache) is
    simply validated again."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[
            tuple[int, int, _Rules],
            tuple[GraphQLSchema, DocumentNode, list[GraphQLError]],
        ] = OrderedDict()

    def __call__(
        self, schema: GraphQLSchema, document: DocumentNode, rules: _Rules
    ) -> list[GraphQLError]:
        key = (id(schema), id(document), rules)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is schema and entry[1] is document:
            self._entries.move_to_end(key)
            return entry[2]
        errors = validate_document(schema, document, rules)
        self._entries[key] = (schema, document, errors)
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return errors


_cached_validate_document = ValidationByIdentity(CACHE_SIZE)


class QuietValidationCache(ValidationCache):
    """Strawberry's ``ValidationCache``, validating without suggestions, finding
    documents by identity."""

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
