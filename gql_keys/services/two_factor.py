"""TOTP two-factor: set-up, checking codes once per account, recovery codes, turning it off.

A code is accepted at most once per account: the last accepted time step is stored on
the user and only ever advanced by a conditional UPDATE, so of two concurrent requests
with the same code exactly one passes, and a code used to log in cannot be used again
for anything else. Attempts are counted per account in the shared database (subject
``totp:<user id>``) *before* the code is checked, and given back when it was right
(even if already used); past ``two_factor_max_failures`` the second factor is locked
with a growing back-off, and codes are not even looked at. Every code turned down is
a ``TWO_FACTOR_FAILED`` row in the owner's security log, wherever it was presented.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from gql_keys.db import transaction
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import User
from gql_keys.repositories import keys as keys_repo
from gql_keys.repositories import recovery_codes as codes_repo
from gql_keys.repositories import sessions as sessions_repo
from gql_keys.repositories import users as users_repo
from gql_keys.runtime import Runtime
from gql_keys.security import totp
from gql_keys.services import accounts, activity, throttle
from gql_keys.services.security_events import ClientInfo, SecurityEventKind, record

CODE_FIELD: tuple[str, ...] = ("input", "code")
RECOVERY_CODE_COUNT = 10
INVALID_CODE_MESSAGE = "The two-factor code is not valid."
REUSED_CODE_MESSAGE = (
    "This two-factor code was already used: wait for the next code from your authenticator app."
)


@dataclass(frozen=True, slots=True)
class SetupStarted:
    secret: str = field(repr=False)
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True, slots=True)
class SetupConfirmed:
    user: User
    recovery_codes: list[str]


def subject_for(user_id: int) -> str:
    return f"totp:{user_id}"


def _limit(rt: Runtime) -> throttle.Limit:
    return throttle.Limit(
        max_failures=rt.settings.two_factor_max_failures,
        window_seconds=rt.settings.two_factor_failure_window_seconds,
    )


def _aad(user_id: int) -> bytes:
    return f"totp-seed:{user_id}".encode()


def seal_seed(rt: Runtime, user_id: int, seed: str) -> str:
    return rt.secretbox.seal(seed.encode(), aad=_aad(user_id))


def open_seed(rt: Runtime, user_id: int, sealed: str) -> str:
    return rt.secretbox.open(sealed, aad=_aad(user_id)).decode()


def _invalid(field: Sequence[str]) -> DomainError:
    return DomainError(ErrorCode.INVALID_TWO_FACTOR_CODE, INVALID_CODE_MESSAGE, field)


def _reused(field: Sequence[str]) -> DomainError:
    """A right code whose time step (or a later one) was already accepted for the account."""
    return DomainError(ErrorCode.INVALID_TWO_FACTOR_CODE, REUSED_CODE_MESSAGE, field)


async def _enabled_user(user_id: int) -> User:
    user = await users_repo.get_user(user_id)
    if user is None or not user.two_factor_enabled or user.totp_seed_sealed is None:
        raise _not_enabled()
    return user


async def _reserve(rt: Runtime, user_id: int, field: Sequence[str]) -> throttle.Reservation:
    """Count the attempt before the code is looked at (or raise ``TOO_MANY_ATTEMPTS``)."""
    return await throttle.reserve(rt, subject_for(user_id), _limit(rt), field)


async def _rejected(
    rt: Runtime, user_id: int, client: ClientInfo, error: DomainError
) -> DomainError:
    """A code turned down (wrong or already used): the owner sees it in the security log."""
    await record(rt, user_id, SecurityEventKind.TWO_FACTOR_FAILED, client)
    return error


async def _fail(
    rt: Runtime,
    user_id: int,
    reservation: throttle.Reservation,
    client: ClientInfo,
    field: Sequence[str],
) -> DomainError:
    """A wrong code: it stays counted as a failure."""
    await throttle.failed(rt, [reservation])
    return await _rejected(rt, user_id, client, _invalid(field))


async def check_code(
    rt: Runtime,
    user_id: int,
    code: str,
    client: ClientInfo,
    *,
    field: Sequence[str] = CODE_FIELD,
) -> None:
    """Accept a TOTP code of a user with 2FA enabled, at most once per account.

    Raises ``TWO_FACTOR_NOT_ENABLED``, ``TOO_MANY_ATTEMPTS`` (without checking the code)
    or ``INVALID_TWO_FACTOR_CODE`` (wrong, or already used).
    """
    user = await _enabled_user(user_id)
    reservation = await _reserve(rt, user_id, field)
    assert user.totp_seed_sealed is not None
    seed = open_seed(rt, user_id, user.totp_seed_sealed)
    step = totp.matching_step(seed, code, rt.clock.time())
    if step is None:
        raise await _fail(rt, user_id, reservation, client, field)
    if not await users_repo.advance_totp_step(user_id, step):
        # A right code that was already used: not a guess, so not counted.
        await throttle.release([reservation])
        raise await _rejected(rt, user_id, client, _reused(field))
    await throttle.clear(subject_for(user_id))


async def _use_recovery_code(rt: Runtime, user_id: int, code: str, client: ClientInfo) -> bool:
    now = rt.clock.now()
    for row in await codes_repo.unused_codes(user_id):
        matches = await asyncio.to_thread(rt.recovery_codes.verify, code, row.code_hash)
        if matches:
            async with transaction(rt.settings):
                used = await codes_repo.mark_used(row.id, now)
                if used:
                    await record(rt, user_id, SecurityEventKind.RECOVERY_CODE_USED, client)
            return used
    return False


def looks_like_totp(code: str) -> bool:
    compact = "".join(code.split())
    return len(compact) == totp.DIGITS and compact.isascii() and compact.isdigit()


async def check_second_factor(
    rt: Runtime,
    user_id: int,
    code: str,
    client: ClientInfo,
    *,
    field: Sequence[str] = CODE_FIELD,
) -> None:
    """Accept a TOTP code, or one unused recovery code in its place (used up at once)."""
    if looks_like_totp(code):
        await check_code(rt, user_id, code, client, field=field)
        return
    await _enabled_user(user_id)
    reservation = await _reserve(rt, user_id, field)
    if not await _use_recovery_code(rt, user_id, code, client):
        raise await _fail(rt, user_id, reservation, client, field)
    await throttle.clear(subject_for(user_id))


async def _user_without_two_factor(user_id: int) -> User:
    user = await users_repo.get_user(user_id)
    if user is None:
        raise DomainError(ErrorCode.NOT_FOUND, "The account no longer exists.")
    if user.two_factor_enabled:
        raise DomainError(
            ErrorCode.TWO_FACTOR_ALREADY_ENABLED, "Two-factor authentication is already enabled."
        )
    return user


async def begin_setup(rt: Runtime, user_id: int, password: str) -> SetupStarted:
    """Check the password, store a fresh sealed seed as pending, return it once."""
    user = await _user_without_two_factor(user_id)
    await accounts.check_password(rt, user, password, ("input", "password"))
    seed = totp.new_seed()
    await users_repo.set_pending_seed(user_id, seal_seed(rt, user_id, seed))
    uri = totp.provisioning_uri(seed, user.email)
    return SetupStarted(secret=seed, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))


async def confirm_setup(
    rt: Runtime,
    user_id: int,
    code: str,
    client: ClientInfo,
    *,
    field: Sequence[str] = CODE_FIELD,
    keep_session: int | None = None,
) -> SetupConfirmed:
    """Activate the pending seed with a valid code; return ten fresh recovery codes.
    With ``keep_session`` (the caller's), every other session of the account ends."""
    user = await _user_without_two_factor(user_id)
    pending = user.totp_pending_seed_sealed
    if pending is None:
        raise DomainError(
            ErrorCode.TWO_FACTOR_SETUP_NOT_STARTED,
            "Start two-factor set-up first (beginTwoFactorSetup).",
        )
    reservation = await _reserve(rt, user_id, field)
    step = totp.matching_step(open_seed(rt, user_id, pending), code, rt.clock.time())
    if step is None:
        raise await _fail(rt, user_id, reservation, client, field)
    if step <= user.totp_last_step:
        await throttle.release([reservation])
        raise await _rejected(rt, user_id, client, _reused(field))
    plain_codes, hashes = await _new_recovery_codes(rt)
    enabled_now = False
    ended: list[int] = []
    async with transaction(rt.settings):
        if await users_repo.enable_two_factor(user_id, pending, step):
            await codes_repo.replace_codes(user_id, hashes)
            ended = await _end_other_sessions(rt, user_id, keep_session)
            await record(rt, user_id, SecurityEventKind.TWO_FACTOR_ENABLED, client)
            enabled_now = True
    await _close_sockets(rt, ended)
    if not enabled_now:
        # A concurrent confirmation with a right code won: not a guess, so not counted.
        await throttle.release([reservation])
        raise await _rejected(rt, user_id, client, _reused(field))
    await throttle.clear(subject_for(user_id))
    enabled = await users_repo.get_user(user_id)
    assert enabled is not None
    return SetupConfirmed(user=enabled, recovery_codes=plain_codes)


async def _end_other_sessions(rt: Runtime, user_id: int, keep_session: int | None) -> list[int]:
    """Inside the factor change's transaction: end every session but ``keep_session``
    (none when it is None, the caller's choice); the ids ended."""
    if keep_session is None:
        return []
    return await sessions_repo.revoke_other_sessions(user_id, keep_session, rt.clock.now())


async def _close_sockets(rt: Runtime, session_ids: list[int]) -> None:
    """After commit: the ended sessions' sockets close on every worker."""
    for session_id in session_ids:
        await activity.end_session(rt, session_id)


async def _new_recovery_codes(rt: Runtime) -> tuple[list[str], list[str]]:
    """Fresh recovery codes and their hashes (hashed off the event loop)."""
    plain_codes = totp.new_recovery_codes(RECOVERY_CODE_COUNT)
    hashes = await asyncio.to_thread(lambda: [rt.recovery_codes.hash(c) for c in plain_codes])
    return plain_codes, hashes


async def regenerate_recovery_codes(
    rt: Runtime, user_id: int, code: str, client: ClientInfo, *, keep_session: int | None = None
) -> list[str]:
    """Replace every recovery code, given a current TOTP code; return the new ones once.
    With ``keep_session`` (the caller's), every other session of the account ends."""
    await check_code(rt, user_id, code, client)
    plain_codes, hashes = await _new_recovery_codes(rt)
    async with transaction(rt.settings):
        user = await users_repo.lock_user(user_id)
        if user is None or not user.two_factor_enabled:
            raise _not_enabled()
        await codes_repo.replace_codes(user_id, hashes)
        ended = await _end_other_sessions(rt, user_id, keep_session)
        await record(rt, user_id, SecurityEventKind.RECOVERY_CODES_REGENERATED, client)
    await _close_sockets(rt, ended)
    return plain_codes


def _not_enabled() -> DomainError:
    return DomainError(
        ErrorCode.TWO_FACTOR_NOT_ENABLED, "Two-factor authentication is not enabled."
    )


def _keys_exist() -> DomainError:
    return DomainError(
        ErrorCode.KEYS_EXIST,
        "Delete your API keys first: keys exist only behind two-factor authentication.",
    )


async def disable(
    rt: Runtime,
    user_id: int,
    password: str,
    code: str,
    client: ClientInfo,
    *,
    keep_session: int | None = None,
) -> User:
    """Turn 2FA off (password and a current TOTP code) on an account without live keys.
    With ``keep_session`` (the caller's), every other session of the account ends.

    The seed and the recovery codes are deleted, not flagged. A key confirmed at the
    same moment either wins (and this is refused) or finds 2FA off: both lock the account.
    """
    user = await _enabled_user(user_id)
    # Checked first so that a refusal costs no code; checked again under the lock.
    if await keys_repo.count_live_keys(user_id, rt.clock.now()):
        raise _keys_exist()
    await accounts.check_password(rt, user, password, ("input", "password"))
    await check_code(rt, user_id, code, client)
    async with transaction(rt.settings):
        await users_repo.lock_user(user_id)
        if await keys_repo.count_live_keys(user_id, rt.clock.now()):
            raise _keys_exist()
        if not await users_repo.disable_two_factor(user_id):
            raise _not_enabled()
        await codes_repo.delete_codes(user_id)
        ended = await _end_other_sessions(rt, user_id, keep_session)
        await record(rt, user_id, SecurityEventKind.TWO_FACTOR_DISABLED, client)
    await _close_sockets(rt, ended)
    disabled = await users_repo.get_user(user_id)
    assert disabled is not None
    return disabled
