"""Notifications: webhook endpoints and their deliveries."""

from gql_keys.graphql.notifications.mutations import Mutation
from gql_keys.graphql.notifications.queries import Query

__all__ = ["Mutation", "Query"]
