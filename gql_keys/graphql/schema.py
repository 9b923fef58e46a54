"""The schema: each domain's Query, Mutation and Subscription merged into one."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from gql_keys.graphql import accounts, activity, keys, nodes, usage, verification
from gql_keys.graphql.logging import QuietSchema
from gql_keys.graphql.pipeline import operation_pipeline
from gql_keys.settings import Settings

QUERIES: tuple[type[Any], ...] = (
    nodes.Query,
    accounts.Query,
    keys.Query,
    verification.Query,
    usage.Query,
)
MUTATIONS: tuple[type[Any], ...] = (accounts.Mutation, keys.Mutation, verification.Mutation)
SUBSCRIPTIONS: tuple[type[Any], ...] = (activity.Subscription,)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The served schema; ``settings`` sets document limits (never the SDL)."""
    settings = settings or Settings()
    query = merge_types("Query", QUERIES)
    mutation = merge_types("Mutation", MUTATIONS)
    subscription = merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None
    return QuietSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        config=StrawberryConfig(disable_field_suggestions=True),
        # Error codes, document limits, parser and validation caches: one extension.
        extensions=[operation_pipeline(settings)],
    )


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
