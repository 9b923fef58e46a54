"""Business logic: plain async functions taking the runtime and the calling principal.

Services know nothing of HTTP or GraphQL; they raise domain errors with codes.
"""
