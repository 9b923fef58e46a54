"""Accounts: registering (e-mail normalisation, password policy), password checks and changes."""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Sequence

from gql_keys.db import transaction
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import User
from gql_keys.repositories import sessions as sessions_repo
from gql_keys.repositories import users as repo
from gql_keys.runtime import Runtime
from gql_keys.security.addresses import throttle_address
from gql_keys.security.passwords import password_problem
from gql_keys.services import activity, throttle
from gql_keys.services.security_events import ClientInfo, SecurityEventKind, record

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


REGISTER_WINDOW_SECONDS = 3600


async def register(rt: Runtime, email: str, password: str, client_ip: str) -> User:
    """Create an account; at most ``register_max_per_address`` attempts per client
    address and hour (counted before anything is checked or hashed)."""
    now = rt.clock.time()
    where = throttle_address(client_ip, rt.settings.throttle_ipv6_prefix)
    allowed = await rt.rate_limiter.hit(
        f"register:{where}", rt.settings.register_max_per_address, REGISTER_WINDOW_SECONDS, now
    )
    if not allowed.allowed:
        wait = max(1, math.ceil(allowed.reset_at - now))
        raise DomainError(
            ErrorCode.TOO_MANY_ATTEMPTS,
            f"Too many registrations from this address; try again in {wait} seconds.",
        )
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


def account_subject(email: str) -> str:
    """Throttle subject of an account, keyed by e-mail so unknown ones behave alike.

    The e-mail is hashed: any input fits the column and the table holds no addresses.
    """
    return "login:account:" + hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()


def account_limit(rt: Runtime) -> throttle.Limit:
    return throttle.Limit(
        max_failures=rt.settings.login_max_failures_per_account,
        window_seconds=rt.settings.login_failure_window_seconds,
    )


def account_and_address_limit(rt: Runtime) -> throttle.Limit:
    return throttle.Limit(
        max_failures=rt.settings.login_max_failures_per_account_and_address,
        window_seconds=rt.settings.login_failure_window_seconds,
    )


async def check_password(rt: Runtime, user: User, password: str, field: Sequence[str]) -> None:
    """Re-check a logged-in user's password; wrong ones count as failed logins of the
    account, and per user at the per-(account, address) limit."""
    held = await throttle.reserve_all(
        rt,
        [
            (f"password:user:{user.id}", account_and_address_limit(rt)),
            (account_subject(user.email), account_limit(rt)),
        ],
        field,
    )
    if not await rt.passwords.verify(password, user.password_hash):
        await throttle.failed(rt, held)
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "The password is not correct.", field)
    await throttle.release(held)


async def change_password(
    rt: Runtime,
    user_id: int,
    session_id: int,
    current_password: str,
    new_password: str,
    client: ClientInfo,
) -> User:
    """Replace the password (current one required); end every session but the caller's."""
    user = await repo.get_user(user_id)
    if user is None:
        raise DomainError(ErrorCode.NOT_FOUND, "The account no longer exists.")
    problem = password_problem(new_password)
    if problem is not None:
        raise DomainError(ErrorCode.WEAK_PASSWORD, problem, ("input", "newPassword"))
    await check_password(rt, user, current_password, ("input", "currentPassword"))
    password_hash = await rt.passwords.hash(new_password)
    now = rt.clock.now()
    async with transaction(rt.settings):
        await repo.set_password_hash(user_id, password_hash)
        ended = await sessions_repo.revoke_other_sessions(user_id, session_id, now)
        await record(rt, user_id, SecurityEventKind.PASSWORD_CHANGED, client)
    for other in ended:
        await activity.end_session(rt, other)
    changed = await repo.get_user(user_id)
    assert changed is not None
    return changed


async def get_user(user_id: int) -> User | None:
    return await repo.get_user(user_id)
