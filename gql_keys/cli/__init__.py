"""The ``gql-keys`` command line."""
