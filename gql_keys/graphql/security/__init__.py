"""Account security: the security log, live sessions, password and 2FA management."""

from gql_keys.graphql.security.mutations import Mutation
from gql_keys.graphql.security.queries import Query

__all__ = ["Mutation", "Query"]
