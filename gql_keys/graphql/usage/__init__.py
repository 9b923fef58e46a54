"""Usage logs and usage statistics."""

from gql_keys.graphql.usage.queries import Query

__all__ = ["Query"]
