"""A compiled executor for ``verifyApiRequest``, the gateway's hot path.

graphql-core executes any operation generically: per request it coerces the variables
through the input type, collects the selection sets, wraps the resolver, and completes
each payload field through its type. For the one operation every partner request costs,
that is most of the CPU. So, as graphql-jit does for JavaScript, a document that asks only
for ``verifyApiRequest(input: $variable)`` with plain field selections (aliases and
``__typename`` included) is compiled once into a :class:`VerifyPlan`, which then runs
with no per-field machinery and renders exactly what the generic executor would.

A plan is only made after the document has passed validation, and it only answers what
it is sure of: any other caller than a verifier service token, or any variable value that
is not plainly valid (a missing, extra or mistyped field), returns None so the generic
executor runs and reports the error as usual. Fragments, directives, ``apiKey`` and
defaults are never compiled. ``tests/api/test_verify_compiled.py`` compares both
executors on the same requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLEnumType,
    GraphQLScalarType,
    GraphQLSchema,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    located_error,
)

from gql_keys.graphql.context import Context
from gql_keys.graphql.permissions import is_service
from gql_keys.graphql.usage.codes import VerificationCodeEnum
from gql_keys.graphql.verification.types import reset_instant
from gql_keys.principals import ServiceRole
from gql_keys.scopes import Scope
from gql_keys.services import verification as service

FIELD = "verifyApiRequest"
INPUT_TYPE = "VerifyApiRequestInput"
PAYLOAD_TYPE = "VerifyApiRequestPayload"
RATE_LIMIT_TYPE = "RateLimitStatus"
REQUIRED_INPUTS = frozenset(
    {"key", "signature", "timestamp", "method", "path", "bodySha512", "clientIp", "requiredScope"}
)
ALL_INPUTS = REQUIRED_INPUTS | {"query"}
PAYLOAD_LEAVES = frozenset({"__typename", "allowed", "code", "userErrors"})
RATE_LIMIT_LEAVES = frozenset({"__typename", "limit", "remaining", "resetAt"})

Keyed = TypeVar("Keyed", bound=tuple[Any, ...])  # a selection: its response key first
# (response key, field name, sub-selection for rateLimit)
Selection = tuple[str, str, tuple[tuple[str, str], ...] | None]


@dataclass(frozen=True, slots=True)
class VerifyPlan:
    response_key: str
    field_node: FieldNode
    variable: str
    selections: tuple[Selection, ...]
    code_names: Mapping[service.VerificationCode, str]
    scopes: Mapping[str, Scope]
    serialize_int: Callable[[Any], Any]
    serialize_datetime: Callable[[Any], Any]

    async def execute(self, context: Context, variables: Mapping[str, Any] | None) -> Any:
        """The operation's result, or None to leave it to the generic executor."""
        if not is_service(context.principal, ServiceRole.VERIFIER):
            return None
        request = self._signed_request(variables)
        if request is None:
            return None
        context.rt.metrics.verify_executions.inc("compiled")
        try:
            decision = await service.verify(context.rt, request)
            data = {self.response_key: self._render(decision)}
        except Exception as exc:  # reported like any resolver's error
            error = located_error(exc, [self.field_node], [self.response_key])
            return ExecutionResult(data=None, errors=[error])
        return ExecutionResult(data=data, errors=None)

    def _signed_request(self, variables: Mapping[str, Any] | None) -> service.SignedRequest | None:
        value = variables.get(self.variable) if isinstance(variables, Mapping) else None
        if not isinstance(value, dict) or not REQUIRED_INPUTS <= value.keys() <= ALL_INPUTS:
            return None
        query = value.get("query", "")
        if query is None:
            query = ""
        fields = (
            value["key"],
            value["signature"],
            value["timestamp"],
            value["method"],
            value["path"],
            query,
            value["bodySha512"],
            value["clientIp"],
        )
        if not all(type(field) is str for field in fields):
            return None
        scope_name = value["requiredScope"]
        scope = self.scopes.get(scope_name) if type(scope_name) is str else None
        if scope is None:
            return None
        return service.SignedRequest(*fields, required_scope=scope)

    def _render(self, decision: service.Decision) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, name, sub in self.selections:
            if name == "allowed":
                out[key] = decision.allowed
            elif name == "code":
                out[key] = self.code_names[decision.code]
            elif name == "userErrors":
                out[key] = []
            elif name == "__typename":
                out[key] = PAYLOAD_TYPE
            else:  # rateLimit
                out[key] = self._render_rate(decision, sub or ())
        return out

    def _render_rate(
        self, decision: service.Decision, sub: tuple[tuple[str, str], ...]
    ) -> dict[str, Any] | None:
        rate = decision.rate
        if rate is None:
            return None
        out: dict[str, Any] = {}
        for key, name in sub:
            if name == "limit":
                out[key] = self.serialize_int(rate.limit)
            elif name == "remaining":
                out[key] = self.serialize_int(rate.remaining)
            elif name == "resetAt":
                out[key] = self.serialize_datetime(reset_instant(rate.reset_at))
            else:
                out[key] = RATE_LIMIT_TYPE
        return out


def compile_plan(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> VerifyPlan | None:
    """A plan for a validated ``document`` that only verifies a request; None otherwise."""
    operation = _single_operation(document, operation_name)
    if operation is None or operation.operation is not OperationType.MUTATION:
        return None
    definitions = operation.variable_definitions or ()
    if operation.directives or len(definitions) != 1:
        return None
    definition = definitions[0]
    declared = definition.type
    if (
        definition.default_value is not None
        or definition.directives
        or not isinstance(declared, NonNullTypeNode)
        or not isinstance(declared.type, NamedTypeNode)
        or declared.type.name.value != INPUT_TYPE
    ):
        return None
    selections = operation.selection_set.selections
    if len(selections) != 1:
        return None
    field = selections[0]
    if not isinstance(field, FieldNode) or field.name.value != FIELD or field.directives:
        return None
    arguments = field.arguments or ()
    if len(arguments) != 1 or arguments[0].name.value != "input":
        return None
    argument = arguments[0].value
    variable = definition.variable.name.value
    if not isinstance(argument, VariableNode) or argument.name.value != variable:
        return None
    payload = _compile_payload(field.selection_set)
    if payload is None:
        return None
    code_type = schema.type_map["VerificationCode"]
    scope_type = schema.type_map["Scope"]
    int_type = schema.type_map["Int"]
    datetime_type = schema.type_map["DateTime"]
    assert isinstance(code_type, GraphQLEnumType)
    assert isinstance(scope_type, GraphQLEnumType)
    assert isinstance(int_type, GraphQLScalarType)
    assert isinstance(datetime_type, GraphQLScalarType)
    return VerifyPlan(
        response_key=_response_key(field),
        field_node=field,
        variable=variable,
        selections=payload,
        code_names={
            code: code_type.serialize(VerificationCodeEnum(code.value))
            for code in service.VerificationCode
        },
        scopes={name: Scope(value.value) for name, value in scope_type.values.items()},
        serialize_int=int_type.serialize,
        serialize_datetime=datetime_type.serialize,
    )


def _single_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The one operation of a document without fragments (as graphql-core would pick it)."""
    operations = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            return None  # fragments: leave them to the generic executor
        operations.append(definition)
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    named = [op for op in operations if op.name is not None and op.name.value == operation_name]
    return named[0] if len(named) == 1 else None


def _compile_payload(selection_set: SelectionSetNode | None) -> tuple[Selection, ...] | None:
    if selection_set is None:
        return None
    compiled: list[Selection] = []
    for node in _plain_fields(selection_set):
        if node is None:
            return None
        name = node.name.value
        if name == "rateLimit":
            sub = _compile_leaves(node.selection_set, RATE_LIMIT_LEAVES)
            if sub is None:
                return None
            compiled.append((_response_key(node), name, sub))
        elif name in PAYLOAD_LEAVES:
            compiled.append((_response_key(node), name, None))
        else:
            return None
    return _unique(compiled)


def _compile_leaves(
    selection_set: SelectionSetNode | None, allowed: frozenset[str]
) -> tuple[tuple[str, str], ...] | None:
    if selection_set is None:
        return None
    leaves: list[tuple[str, str]] = []
    for node in _plain_fields(selection_set):
        if node is None or node.name.value not in allowed or node.selection_set is not None:
            return None
        leaves.append((_response_key(node), node.name.value))
    return _unique(leaves)


def _plain_fields(selection_set: SelectionSetNode) -> list[FieldNode | None]:
    """Each selection, or None for one the plan does not take (fragments, directives,
    arguments)."""
    return [
        node if isinstance(node, FieldNode) and not node.directives and not node.arguments else None
        for node in selection_set.selections
    ]


def _unique(selections: list[Keyed]) -> tuple[Keyed, ...] | None:
    """Repeated response keys (legal when mergeable) are left to the generic executor."""
    keys = {selection[0] for selection in selections}
    return tuple(selections) if len(keys) == len(selections) else None


def _response_key(node: FieldNode) -> str:
    return node.alias.value if node.alias is not None else node.name.value
