"""Domain errors: every failure carries a code; only the edge translates them."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TWO_FACTOR_REQUIRED = "TWO_FACTOR_REQUIRED"
    TWO_FACTOR_NOT_ENABLED = "TWO_FACTOR_NOT_ENABLED"
    TWO_FACTOR_ALREADY_ENABLED = "TWO_FACTOR_ALREADY_ENABLED"
    TWO_FACTOR_SETUP_NOT_STARTED = "TWO_FACTOR_SETUP_NOT_STARTED"
    INVALID_TWO_FACTOR_CODE = "INVALID_TWO_FACTOR_CODE"
    CHALLENGE_EXPIRED = "CHALLENGE_EXPIRED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    NOT_FOUND = "NOT_FOUND"
    LIMIT_REACHED = "LIMIT_REACHED"
    KEYS_EXIST = "KEYS_EXIST"


class DomainError(Exception):
    """A business failure the caller can act on (becomes a ``userError``)."""

    def __init__(self, code: ErrorCode, message: str, field: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = tuple(field) if field is not None else None


class InvalidInput(Exception):
    """Several input problems found at once (each becomes a ``userError``)."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)


class Unauthenticated(Exception):
    """Missing or wrong credentials (a top-level error, ``UNAUTHENTICATED``)."""

    def __init__(self, message: str = "Authentication required.") -> None:
        super().__init__(message)


class Forbidden(Exception):
    """The caller's kind of principal may not do this (a top-level error, ``FORBIDDEN``)."""

    def __init__(self, message: str = "This principal may not perform this operation.") -> None:
        super().__init__(message)


class ServiceUnavailable(Exception):
    """A dependency (the database, the usage log) cannot serve now (``SERVICE_UNAVAILABLE``)."""
