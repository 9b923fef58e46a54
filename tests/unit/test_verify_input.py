"""``VerifyApiRequestInput`` is built straight from graphql-core's value."""

from __future__ import annotations

from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from gql_keys.graphql.verification.types import VerifyApiRequestInput
from gql_keys.scopes import Scope


def test_every_field_the_schema_declares_reaches_the_input() -> None:
    definition = get_object_definition(VerifyApiRequestInput, strict=True)
    assert definition.from_input is not None
    value: dict[str, object] = {
        to_camel_case(field.python_name): f"value of {field.python_name}"
        for field in definition.fields
    }
    value["requiredScope"] = Scope.SPOT_WRITE
    built = definition.from_input(VerifyApiRequestInput, value, None)  # type: ignore[arg-type]
    assert isinstance(built, VerifyApiRequestInput)
    for field in definition.fields:
        assert getattr(built, field.python_name) == value[to_camel_case(field.python_name)]


def test_an_explicit_null_query_is_signed_as_the_empty_query() -> None:
    definition = get_object_definition(VerifyApiRequestInput, strict=True)
    assert definition.from_input is not None
    value = {
        "key": "k",
        "signature": "s",
        "timestamp": "1",
        "method": "GET",
        "path": "/p",
        "query": None,
        "bodySha512": "b",
        "clientIp": "203.0.113.7",
        "requiredScope": Scope.SPOT_READ,
    }
    built = definition.from_input(VerifyApiRequestInput, value, None)  # type: ignore[arg-type]
    assert built.signed_request(None).query == ""
