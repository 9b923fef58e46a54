"""The schema: each domain's Query, Mutation and Subscription merged into one."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from gql_keys.graphql import accounts, nodes
from gql_keys.graphql.error_codes import ErrorCodes
from gql_keys.graphql.logging import QuietSchema

QUERIES: tuple[type[Any], ...] = (nodes.Query, accounts.Query)
MUTATIONS: tuple[type[Any], ...] = (accounts.Mutation,)
SUBSCRIPTIONS: tuple[type[Any], ...] = ()


def build_schema() -> strawberry.Schema:
    query = merge_types("Query", QUERIES)
    mutation = merge_types("Mutation", MUTATIONS)
    subscription = merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None
    return QuietSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        config=StrawberryConfig(disable_field_suggestions=True),
        extensions=[
            ErrorCodes,
            lambda: ParserCache(maxsize=1024),
            lambda: ValidationCache(maxsize=1024),
        ],
    )


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
