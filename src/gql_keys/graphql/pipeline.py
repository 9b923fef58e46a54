"""The one schema extension every operation runs through.

Strawberry builds a fresh instance of each extension for every request and then, for each
lifecycle hook, inspects every instance and wraps its hook in a context manager. Our five
extensions (error codes, token limit, validation rules, parser cache, validation cache)
are therefore merged into one instance: the same hooks, run in the same order, with a
fifth of the per-request bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from graphql import ASTValidationRule
from strawberry.extensions import ParserCache, ValidationCache

from gql_keys.graphql.error_codes import ErrorCodes
from gql_keys.graphql.limits import validation_rules
from gql_keys.settings import Settings

CACHE_SIZE = 1024


class OperationPipeline(ErrorCodes, ParserCache, ValidationCache):
    """Document limits (``max_tokens`` for the parser, our validation rules), the parse
    and validation caches, and error codes (outermost, so they see every error)."""

    def __init__(
        self, max_tokens: int, rules: tuple[type[ASTValidationRule], ...], cache_size: int
    ) -> None:
        ParserCache.__init__(self, maxsize=cache_size)
        ValidationCache.__init__(self, maxsize=cache_size)
        self.max_tokens = max_tokens
        self.rules = rules

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        # What MaxTokensLimiter and AddValidationRules did, before parsing starts.
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = context.validation_rules + self.rules
        yield from ErrorCodes.on_operation(self)


def operation_pipeline(settings: Settings) -> Callable[[], OperationPipeline]:
    """The factory Strawberry calls once per request; the rules are built once so the
    validation cache (keyed by them) can hit."""
    rules = tuple(validation_rules(settings))
    max_tokens = settings.max_tokens

    def factory() -> OperationPipeline:
        return OperationPipeline(max_tokens, rules, CACHE_SIZE)

    return factory
