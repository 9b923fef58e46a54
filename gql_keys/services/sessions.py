"""Logging in and out: throttled password checks, the second factor, session tokens.

An unknown e-mail and a wrong password get the same answer after the same work (a
dummy hash is verified). Logins are counted per account (keyed by e-mail) and per client
address *before* the password is checked, and given back when it is right; past either
limit ``login`` answers ``TOO_MANY_ATTEMPTS`` without looking at the password. Tokens
carry 256 random bits and are stored as SHA-256 digests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gql_keys.broker.events import ActivityEvent, ActivityKind, new_event_id
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import User
from gql_keys.repositories import sessions as sessions_repo
from gql_keys.repositories import users as users_repo
from gql_keys.runtime import Runtime
from gql_keys.security.tokens import SESSION_TOKEN_PREFIX, new_token, token_digest
from gql_keys.services import accounts, throttle, two_factor

INVALID_CREDENTIALS_MESSAGE = "The e-mail address or password is not correct."
TOTP_FIELD: tuple[str, ...] = ("input", "totpCode")


@dataclass(frozen=True, slots=True)
class LoggedIn:
    token: str
    user: User


def address_subject(client_ip: str) -> str:
    return f"login:address:{client_ip}"


def address_limit(rt: Runtime) -> throttle.Limit:
    return throttle.Limit(
        max_failures=rt.settings.login_max_failures_per_address,
        window_seconds=rt.settings.login_failure_window_seconds,
    )


def _invalid_credentials() -> DomainError:
    return DomainError(ErrorCode.INVALID_CREDENTIALS, INVALID_CREDENTIALS_MESSAGE)


async def start_session(rt: Runtime, user_id: int) -> str:
    """Create a session for ``user_id``; return its token (never stored)."""
    now = rt.clock.now()
    token = new_token(SESSION_TOKEN_PREFIX)
    expires_at = now + timedelta(seconds=rt.settings.session_absolute_seconds)
    await sessions_repo.create_session(user_id, token_digest(token), now, expires_at)
    return token


async def login(
    rt: Runtime, email: str, password: str, totp_code: str | None, client_ip: str
) -> LoggedIn:
    normalised = accounts.normalise_email(email)
    # An address that cannot exist is throttled and answered like an unknown one.
    account = accounts.account_subject(normalised or email.strip().lower())
    address = address_subject(client_ip)
    # The attempt is counted before the password is looked at, so concurrent requests
    # on any worker cannot get more than the limit of passwords checked.
    held = await throttle.reserve_all(
        rt, [(account, accounts.account_limit(rt)), (address, address_limit(rt))]
    )

    user = await users_repo.get_user_by_email(normalised) if normalised else None
    valid = await rt.passwords.verify(password, user.password_hash if user else None)
    if user is None or not valid:
        await throttle.failed(rt, held)
        raise _invalid_credentials()
    # The right password is not a guess.
    await throttle.release(held)

    if user.two_factor_enabled:
        if totp_code is None or not totp_code.strip():
            raise DomainError(
                ErrorCode.TWO_FACTOR_REQUIRED,
                "Enter the code from your authenticator app or a recovery code.",
                TOTP_FIELD,
            )
        try:
            await two_factor.check_second_factor(rt, user.id, totp_code, field=TOTP_FIELD)
        except DomainError as exc:
            if exc.code is ErrorCode.INVALID_TWO_FACTOR_CODE:
                # The right password with a wrong code: the owner should hear of it.
                await rt.broker.publish([_two_factor_failed(rt, user.id, client_ip)])
            raise

    await throttle.clear(account)
    if rt.passwords.needs_rehash(user.password_hash):
        await users_repo.set_password_hash(user.id, await rt.passwords.hash(password))
    token = await start_session(rt, user.id)
    return LoggedIn(token=token, user=user)


def _two_factor_failed(rt: Runtime, user_id: int, client_ip: str) -> ActivityEvent:
    return ActivityEvent(
        id=new_event_id(int(rt.clock.time() * 1_000_000_000)),
        kind=ActivityKind.TWO_FACTOR_FAILED,
        occurred_at=rt.clock.now(),
        owner_id=user_id,
        client_ip=client_ip,
    )


async def logout(rt: Runtime, session_id: int) -> None:
    """End the session at once."""
    await sessions_repo.revoke_session(session_id, rt.clock.now())
