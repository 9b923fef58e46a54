"""Logging in and out, live sessions: throttled password checks, the second factor, tokens.

An unknown e-mail and a wrong password get the same answer after the same work (a
dummy hash is verified). Logins are counted per account (keyed by e-mail) and per client
address *before* the password is checked, and given back when it is right; past either
limit ``login`` answers ``TOO_MANY_ATTEMPTS`` without looking at the password. Tokens
carry 256 random bits and are stored as SHA-256 digests. Ending a session (logout,
revocation, a password change) revokes its row and closes its WebSockets on every worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gql_keys.broker.events import ActivityEvent, ActivityKind, new_event_id
from gql_keys.db import transaction
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import Session, User
from gql_keys.repositories import sessions as sessions_repo
from gql_keys.repositories import users as users_repo
from gql_keys.runtime import Runtime
from gql_keys.security.addresses import throttle_address
from gql_keys.security.tokens import SESSION_TOKEN_PREFIX, new_token, token_digest
from gql_keys.services import accounts, activity, throttle, two_factor
from gql_keys.services.security_events import ClientInfo, SecurityEventKind, record

INVALID_CREDENTIALS_MESSAGE = "The e-mail address or password is not correct."
TOTP_FIELD: tuple[str, ...] = ("input", "totpCode")


@dataclass(frozen=True, slots=True)
class LoggedIn:
    token: str
    user: User


def address_subject(where: str) -> str:
    """Throttle subject of one client address (``where``: see ``throttle_address``)."""
    return f"login:address:{where}"


def account_and_address_subject(account: str, where: str) -> str:
    """Throttle subject of one account tried from one client address."""
    return f"{account}:address:{where}"


def address_limit(rt: Runtime) -> throttle.Limit:
    return throttle.Limit(
        max_failures=rt.settings.login_max_failures_per_address,
        window_seconds=rt.settings.login_failure_window_seconds,
    )


def _invalid_credentials() -> DomainError:
    return DomainError(ErrorCode.INVALID_CREDENTIALS, INVALID_CREDENTIALS_MESSAGE)


async def start_session(rt: Runtime, user_id: int, client: ClientInfo) -> str:
    """Create a session for ``user_id`` and record the login; return its token (never stored)."""
    now = rt.clock.now()
    token = new_token(SESSION_TOKEN_PREFIX)
    expires_at = now + timedelta(seconds=rt.settings.session_absolute_seconds)
    async with transaction(rt.settings):
        await sessions_repo.create_session(
            user_id, token_digest(token), now, expires_at, client.ip, client.user_agent
        )
        await record(rt, user_id, SecurityEventKind.LOGIN_SUCCEEDED, client)
    return token


async def login(
    rt: Runtime, email: str, password: str, totp_code: str | None, client: ClientInfo
) -> LoggedIn:
    normalised = accounts.normalise_email(email)
    # An address that cannot exist is throttled and answered like an unknown one.
    account = accounts.account_subject(normalised or email.strip().lower())
    where = throttle_address(client.ip, rt.settings.throttle_ipv6_prefix)
    pair = account_and_address_subject(account, where)
    # The attempt is counted before the password is looked at, so concurrent requests
    # on any worker cannot get more than the limit of passwords checked. One address
    # runs out of attempts for an account long before the account as a whole does, so
    # a stranger cannot lock the owner out from the owner's own address.
    held = await throttle.reserve_all(
        rt,
        [
            (pair, accounts.account_and_address_limit(rt)),
            (account, accounts.account_limit(rt)),
            (address_subject(where), address_limit(rt)),
        ],
    )

    user = await users_repo.get_user_by_email(normalised) if normalised else None
    valid = await rt.passwords.verify(password, user.password_hash if user else None)
    if user is None or not valid:
        await throttle.failed(rt, held)
        if user is not None:  # never a row for an e-mail that has no account
            await record(rt, user.id, SecurityEventKind.LOGIN_FAILED, client)
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
            await two_factor.check_second_factor(rt, user.id, totp_code, client, field=TOTP_FIELD)
        except DomainError as exc:
            if exc.code is ErrorCode.INVALID_TWO_FACTOR_CODE:
                # The right password with a wrong code: the owner should hear of it.
                await record(rt, user.id, SecurityEventKind.LOGIN_FAILED, client)
                await rt.broker.publish([_two_factor_failed(rt, user.id, client.ip)])
            raise

    await throttle.clear(pair)
    await throttle.clear(account)
    if rt.passwords.needs_rehash(user.password_hash):
        await users_repo.set_password_hash(user.id, await rt.passwords.hash(password))
    token = await start_session(rt, user.id, client)
    return LoggedIn(token=token, user=user)


def _two_factor_failed(rt: Runtime, user_id: int, client_ip: str) -> ActivityEvent:
    return ActivityEvent(
        id=new_event_id(int(rt.clock.time() * 1_000_000_000)),
        kind=ActivityKind.TWO_FACTOR_FAILED,
        occurred_at=rt.clock.now(),
        owner_id=user_id,
        client_ip=client_ip,
    )


async def logout(rt: Runtime, user_id: int, session_id: int, client: ClientInfo) -> None:
    """End the calling session at once, on every worker."""
    async with transaction(rt.settings):
        if await sessions_repo.revoke_user_session(user_id, session_id, rt.clock.now()):
            await record(rt, user_id, SecurityEventKind.LOGOUT, client)
    await activity.end_session(rt, session_id)


def _seen_since(rt: Runtime) -> datetime:
    """Sessions idle since before this moment are over."""
    return rt.clock.now() - timedelta(seconds=rt.settings.session_idle_seconds)


async def live_sessions(rt: Runtime, user_id: int) -> list[Session]:
    """The user's sessions that still authenticate, newest first."""
    return await sessions_repo.live_user_sessions(user_id, rt.clock.now(), _seen_since(rt))


async def live_session(rt: Runtime, user_id: int, session_id: int) -> Session | None:
    """One of the user's live sessions; None for anyone else's or an ended one."""
    return await sessions_repo.live_user_session(
        user_id, session_id, rt.clock.now(), _seen_since(rt)
    )


async def revoke_session(rt: Runtime, user_id: int, session_id: int, client: ClientInfo) -> None:
    """End one of the user's sessions at once: its token and its sockets, on every worker."""
    field = ("input", "id")
    if await live_session(rt, user_id, session_id) is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such session.", field)
    async with transaction(rt.settings):
        if not await sessions_repo.revoke_user_session(user_id, session_id, rt.clock.now()):
            raise DomainError(ErrorCode.NOT_FOUND, "No such session.", field)
        await record(rt, user_id, SecurityEventKind.SESSION_REVOKED, client)
    await activity.end_session(rt, session_id)
