"""``UserError`` and ``ErrorCode``: how business failures reach the client."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

from gql_keys.domain_errors import DomainError, InvalidInput
from gql_keys.graphql.enums import ErrorCode


@strawberry.type
class UserError:
    field: list[str] | None
    message: str
    code: ErrorCode


def user_error(error: DomainError) -> UserError:
    return UserError(
        field=list(error.field) if error.field is not None else None,
        message=error.message,
        code=error.code,
    )


def user_errors(exc: DomainError | InvalidInput) -> list[UserError]:
    """The ``userErrors`` list for a domain failure (one or several problems)."""
    if isinstance(exc, InvalidInput):
        return [user_error(e) for e in exc.errors]
    return [user_error(exc)]


def field_path(*parts: str) -> Sequence[str]:
    return ("input", *parts)
