"""Drives a live gql-keys as its clients do (accounts, keys, signed partner requests, the
dashboard in a browser) and prepares its databases: shared by tests, bench and scripts."""
