"""The schema: each domain's Query, Mutation and Subscription merged into one."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from gql_keys.graphql import (
    accounts,
    activity,
    keys,
    notifications,
    security,
    sub_accounts,
    usage,
    verification,
)
from gql_keys.graphql.accounts.queries import load_user_node
from gql_keys.graphql.activity.sharing import SharedEventExecutor
from gql_keys.graphql.error_logging import QuietSchema
from gql_keys.graphql.keys.queries import load_api_key_node
from gql_keys.graphql.node import node_query
from gql_keys.graphql.notifications.queries import (
    load_webhook_delivery_node,
    load_webhook_endpoint_node,
)
from gql_keys.graphql.pipeline import operation_extensions
from gql_keys.graphql.security.queries import load_security_event_node, load_session_node
from gql_keys.graphql.sub_accounts.queries import load_sub_account_node
from gql_keys.graphql.usage.queries import load_usage_log_node
from gql_keys.settings import Settings

QUERIES: tuple[type[Any], ...] = (
    accounts.Query,
    keys.Query,
    verification.Query,
    usage.Query,
    security.Query,
    sub_accounts.Query,
    notifications.Query,
)
MUTATIONS: tuple[type[Any], ...] = (
    accounts.Mutation,
    keys.Mutation,
    verification.Mutation,
    security.Mutation,
    sub_accounts.Mutation,
    notifications.Mutation,
)
SUBSCRIPTIONS: tuple[type[Any], ...] = (activity.Subscription,)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The served schema; ``settings`` sets document limits (never the SDL)."""
    settings = settings or Settings()
    # ``node(id:)`` loads each type through its own domain's loader.
    nodes = node_query(
        {
            "User": load_user_node,
            "ApiKey": load_api_key_node,
            "UsageLog": load_usage_log_node,
            "SecurityEvent": load_security_event_node,
            "Session": load_session_node,
            "SubAccount": load_sub_account_node,
            "WebhookEndpoint": load_webhook_endpoint_node,
            "WebhookDelivery": load_webhook_delivery_node,
        }
    )
    query = merge_types("Query", (nodes, *QUERIES))
    mutation = merge_types("Mutation", MUTATIONS)
    subscription = merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None
    return QuietSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        config=StrawberryConfig(disable_field_suggestions=True),
        # Error codes, document limits, parser and validation caches.
        extensions=list(operation_extensions(settings)),
        # Sockets with the same audience and operation share each event's execution.
        execution_context_class=SharedEventExecutor,
    )


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
