"""The one schema extension every operation runs through.

Strawberry builds a fresh instance of each extension for every request and then, for each
lifecycle hook, inspects every instance and wraps its hook in a context manager. Our
extensions (error codes, token limit, validation rules, parser cache, validation cache,
the compiled ``verifyApiRequest``) are therefore merged into one instance: the same
hooks, run in the same order, with a fraction of the per-request bookkeeping.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, validate
from strawberry.extensions import ParserCache
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from gql_keys.graphql.context import Context
from gql_keys.graphql.document_limits import validation_rules
from gql_keys.graphql.error_extension import ErrorCodes
from gql_keys.graphql.verification.compiled import VerifyPlan, compile_plan
from gql_keys.settings import Settings

CACHE_SIZE = 1024


def validate_document(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    """Strawberry's validation (its two rules added), without "Did you mean …"
    suggestions: they would map the schema for callers without introspection."""
    rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    return validate(schema, document, rules, hide_suggestions=True)


@dataclass(slots=True)
class Prepared:
    """What is known of one parsed document: its validation errors and, per operation
    name, its compiled plan (None: executed generically)."""

    document: DocumentNode
    rules: tuple[type[ASTValidationRule], ...]
    errors: list[GraphQLError]
    plans: dict[str | None, VerifyPlan | None]


class PreparedDocuments:
    """Validation results and plans, keyed by the identity of the parsed document.

    The parser cache hands out the same ``DocumentNode`` for the same query text, so its
    identity is a free key, where Strawberry's ``ValidationCache`` hashes the whole tree
    on every request. Each entry holds its document, so an id cannot be reused while
    the entry lives.
    """

    def __init__(
        self, rules: tuple[type[ASTValidationRule], ...], maxsize: int = CACHE_SIZE
    ) -> None:
        self.rules = rules
        self.maxsize = maxsize
        self._entries: OrderedDict[int, Prepared] = OrderedDict()

    def validated(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> Prepared:
        """The entry of ``document`` validated with ``rules`` plus ours."""
        rules = rules + self.rules
        entry = self.lookup(document)
        if entry is not None and entry.rules == rules:
            return entry
        entry = Prepared(document, rules, validate_document(schema, document, rules), {})
        self._entries[id(document)] = entry
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return entry

    def lookup(self, document: DocumentNode) -> Prepared | None:
        entry = self._entries.get(id(document))
        if entry is None or entry.document is not document:
            return None
        self._entries.move_to_end(id(document))
        return entry


class OperationPipeline(ErrorCodes, ParserCache):
    """Document limits (``max_tokens`` for the parser, our validation rules), the parse
    and validation caches, the compiled hot path, and error codes (outermost, so they
    see every error)."""

    def __init__(self, max_tokens: int, prepared: PreparedDocuments) -> None:
        ParserCache.__init__(self, maxsize=prepared.maxsize)
        self.max_tokens = max_tokens
        self.prepared = prepared
        self.document: Prepared | None = None  # set by on_validate

    def on_operation(self) -> Iterator[None]:
        # What MaxTokensLimiter did, before parsing starts.
        self.execution_context.parse_options["max_tokens"] = self.max_tokens
        yield from ErrorCodes.on_operation(self)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        self.document = self.prepared.validated(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
        context.pre_execution_errors = self.document.errors
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        prepared = self.document  # execution only follows a validation that passed
        if prepared is not None and isinstance(context.context, Context):
            name = context.operation_name
            if name not in prepared.plans:
                prepared.plans[name] = compile_plan(context.schema._schema, prepared.document, name)
            plan = prepared.plans[name]
            if plan is not None and context.result is None:
                # Setting the result is how an extension answers instead of the executor.
                result = await plan.execute(context.context, context.variables)
                if result is not None:
                    context.result = result
        yield


def operation_pipeline(settings: Settings) -> Callable[[], OperationPipeline]:
    """The factory Strawberry calls once per request; the rules and the prepared
    documents are built once per schema."""
    prepared = PreparedDocuments(tuple(validation_rules(settings)))
    max_tokens = settings.max_tokens

    def factory() -> OperationPipeline:
        return OperationPipeline(max_tokens, prepared)

    return factory
