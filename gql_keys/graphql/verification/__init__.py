"""Request verification: ``verifyApiRequest`` for gateways, ``currentApiKey`` for partners."""

from gql_keys.graphql.verification.mutations import Mutation
from gql_keys.graphql.verification.queries import Query

__all__ = ["Mutation", "Query"]
