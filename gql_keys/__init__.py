"""gql-keys: the API-key authority of a trading platform, served as a GraphQL API."""

__version__ = "0.1.0"
