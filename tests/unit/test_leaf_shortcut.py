"""The executor's leaf shortcut answers exactly what graphql-core's own path answers:
values, nulls, errors on non-null fields, enums, custom scalars, resolvers and aliases."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gql_keys.graphql.execution import LeafShortcutExecutor, leaf_plan
from graphql import GraphQLObjectType


@strawberry.enum
class Color(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    name: str
    count: int
    at: datetime
    color: Color
    maybe: str | None
    broken: str  # set to None on purpose: a non-null field returning null
    odd_color: Color  # set to a value that is not a Color

    @strawberry.field
    def shout(self, suffix: str = "!") -> str:
        return self.name.upper() + suffix


def items() -> list[Item]:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return [
        Item(
            name="a", count=1, at=at, color=Color.RED, maybe=None, broken="x", odd_color=Color.BLUE
        ),
        Item(name="b", count=2, at=at, color=Color.BLUE, maybe="m", broken=None, odd_color="nope"),  # type: ignore[arg-type]
    ]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return items()


QUERIES = [
    "{ items { name count at color maybe shout n: name s: shout(suffix: '?') } }".replace("'", '"'),
    "{ items { name broken } }",
    "{ items { name oddColor } }",
    "{ items { ... on Item { count } name @skip(if: true) } }",
]


def run(executor: type[StrawberryGraphQLCoreExecutionContext], query: str) -> dict[str, Any]:
    schema = strawberry.Schema(query=Query, execution_context_class=executor)
    result = schema.execute_sync(query)
    return {
        "data": result.data,
        "errors": [(e.message, e.path) for e in result.errors or ()],
    }


@pytest.mark.parametrize("query", QUERIES)
def test_same_result_as_graphql_core(query: str) -> None:
    assert run(LeafShortcutExecutor, query) == run(StrawberryGraphQLCoreExecutionContext, query)


def test_only_basic_leaf_fields_are_planned() -> None:
    schema = strawberry.Schema(query=Query)
    item = schema._schema.type_map["Item"]
    assert isinstance(item, GraphQLObjectType)
    planned = {name for name, field in item.fields.items() if leaf_plan(field) is not None}
    assert planned == {"name", "count", "at", "color", "maybe", "broken", "oddColor"}
    query = schema._schema.type_map["Query"]
    assert isinstance(query, GraphQLObjectType)
    assert leaf_plan(query.fields["items"]) is None
