"""API keys: the scope catalogue, creating and confirming keys, listing and deleting them."""

from gql_keys.graphql.keys.mutations import Mutation
from gql_keys.graphql.keys.queries import Query

__all__ = ["Mutation", "Query"]
