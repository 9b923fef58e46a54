"""Live key activity over WebSocket."""

from gql_keys.graphql.activity.subscriptions import Subscription

__all__ = ["Subscription"]
