"""Sub-accounts: listing, creating, locking, unlocking and deleting them."""

from gql_keys.graphql.sub_accounts.mutations import Mutation
from gql_keys.graphql.sub_accounts.queries import Query

__all__ = ["Mutation", "Query"]
