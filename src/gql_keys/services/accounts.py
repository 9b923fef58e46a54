"""Registering accounts: e-mail normalisation and the password policy."""

from __future__ import annotations

import re
import unicodedata

from gql_keys.errors import DomainError, ErrorCode
from gql_keys.models import User
from gql_keys.repositories import users as repo
from gql_keys.runtime import Runtime
from gql_keys.security.passwords import password_problem

MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalise_email(raw: str) -> str | None:
    """The canonical form of an e-mail address (NFKC, trimmed, lower case), or None."""
    email = unicodedata.normalize("NFKC", raw).strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        return None
    if any(unicodedata.category(ch).startswith("C") for ch in email):
        return None
    return email


async def register(rt: Runtime, email: str, password: str) -> User:
    normalised = normalise_email(email)
    if normalised is None:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "Enter a valid e-mail address.", ("input", "email")
        )
    problem = password_problem(password)
    if problem is not None:
        raise DomainError(ErrorCode.WEAK_PASSWORD, problem, ("input", "password"))
    if await repo.get_user_by_email(normalised) is not None:
        raise DomainError(
            ErrorCode.EMAIL_TAKEN, "An account with this e-mail already exists.", ("input", "email")
        )
    password_hash = await rt.passwords.hash(password)
    try:
        return await repo.create_user(normalised, password_hash)
    except repo.EmailTaken:
        raise DomainError(
            ErrorCode.EMAIL_TAKEN, "An account with this e-mail already exists.", ("input", "email")
        ) from None
