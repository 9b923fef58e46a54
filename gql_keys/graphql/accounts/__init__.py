"""Accounts: registration, sessions and two-factor set-up."""

from gql_keys.graphql.accounts.mutations import Mutation
from gql_keys.graphql.accounts.queries import Query

__all__ = ["Mutation", "Query"]
