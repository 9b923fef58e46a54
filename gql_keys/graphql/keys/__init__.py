"""API keys: the scope catalogue, creating and confirming keys, listing, changing,
rolling and deleting them, quarantine and cooling-off."""

from strawberry.tools import merge_types

from gql_keys.graphql.keys import changes, mutations, safety
from gql_keys.graphql.keys.queries import Query

Mutation = merge_types("KeyMutation", (mutations.Mutation, changes.Mutation, safety.Mutation))

__all__ = ["Mutation", "Query"]
