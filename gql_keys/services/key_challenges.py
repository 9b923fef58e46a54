"""Second-factor challenges on keys: opening one for a purpose, judging its code, and
key events.

A challenge names one key (or, for UNLOCK_SUB_ACCOUNT, a sub-account in its payload) and
one purpose and stores what its confirmation applies (see
:class:`~gql_keys.models.KeyChallenge`), so ``verifyTwoFactor`` takes only the challenge
id and a code: the client cannot change the operation between the two calls.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from gql_keys.broker.events import ActivityEvent, ActivityKind, new_event_id
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import ApiKey, KeyChallenge
from gql_keys.repositories import keys as repo
from gql_keys.repositories import users as users_repo
from gql_keys.runtime import Runtime
from gql_keys.services import two_factor
from gql_keys.services.security_events import ClientInfo

CHALLENGE_ID_PREFIX = "kch_"
MAX_CHALLENGE_ID_LENGTH = 64


class ChallengePurpose(StrEnum):
    CREATE_KEY = "CREATE_KEY"
    UPDATE_KEY = "UPDATE_KEY"
    ROLL_KEY = "ROLL_KEY"
    RELEASE_KEY = "RELEASE_KEY"
    UNLOCK_SUB_ACCOUNT = "UNLOCK_SUB_ACCOUNT"
    CREATE_WEBHOOK = "CREATE_WEBHOOK"


@dataclass(frozen=True, slots=True)
class Challenge:
    public_id: str
    expires_at: datetime
    purpose: ChallengePurpose


def key_event(rt: Runtime, kind: ActivityKind, row: ApiKey) -> ActivityEvent:
    return ActivityEvent(
        id=new_event_id(int(rt.clock.time() * 1_000_000_000)),
        kind=kind,
        occurred_at=rt.clock.now(),
        owner_id=row.user_id,
        api_key_id=row.id,
        key=row.key,
        sub_account_id=row.sub_account_id,
    )


def two_factor_required(action: str) -> DomainError:
    return DomainError(
        ErrorCode.TWO_FACTOR_NOT_ENABLED, f"Enable two-factor authentication to {action}."
    )


async def require_two_factor(user_id: int, action: str) -> None:
    user = await users_repo.get_user(user_id)
    if user is None or not user.two_factor_enabled:
        raise two_factor_required(action)


def check_revision(challenge: KeyChallenge, row: ApiKey) -> None:
    """A change or roll challenge confirms only the key as it was when it was opened:
    once the key changed (another update, a roll, a quarantine), it is CHALLENGE_EXPIRED,
    so an older request cannot undo a later narrowing."""
    if challenge.key_revision is None or challenge.key_revision != row.revision:
        raise DomainError(
            ErrorCode.CHALLENGE_EXPIRED,
            "The key changed after this challenge was opened: start again.",
            ("input", "challengeId"),
        )


async def check_open_challenges(rt: Runtime, user_id: int, now: datetime) -> None:
    if await repo.count_open_challenges(user_id, now) >= rt.settings.max_live_keys:
        raise DomainError(ErrorCode.LIMIT_REACHED, "Too many operations are waiting for a code.")


def too_many_attempts(field: str) -> DomainError:
    return DomainError(
        ErrorCode.TOO_MANY_ATTEMPTS,
        "Too many wrong codes for this challenge: start again.",
        ("input", field),
    )


async def judge_code(
    rt: Runtime,
    user_id: int,
    challenge: KeyChallenge,
    code: str,
    client: ClientInfo,
    failed: ActivityEvent,
) -> None:
    """Count ``code`` as one attempt on ``challenge`` and check it; a wrong code
    publishes ``failed`` (TWO_FACTOR_FAILED) and raises, the last one TOO_MANY_ATTEMPTS.
    A right code (or one never judged) is given back: it was not a guess."""
    max_attempts = rt.settings.challenge_max_attempts
    if not await repo.take_attempt(challenge.id, max_attempts):
        raise too_many_attempts("challengeId")
    try:
        await two_factor.check_code(rt, user_id, code, client)
    except DomainError as exc:
        if exc.code is not ErrorCode.INVALID_TWO_FACTOR_CODE:
            # Not enabled, or locked after too many failures: no code was judged.
            await repo.give_back_attempt(challenge.id)
            raise
        await rt.broker.publish([failed])
        if await repo.attempts_of(challenge.id) >= max_attempts:
            raise too_many_attempts("code") from None
        raise
    await repo.give_back_attempt(challenge.id)


async def open_challenge(
    rt: Runtime,
    user_id: int,
    api_key_id: int | None,
    purpose: ChallengePurpose,
    now: datetime,
    payload: dict[str, Any] | None = None,
    key_revision: int | None = None,
) -> Challenge:
    """Store a challenge for ``purpose`` on the key (or on what ``payload`` names),
    inside the caller's transaction; a change or roll names the ``key_revision`` it is for
    (see :func:`check_revision`)."""
    expires_at = now + timedelta(seconds=rt.settings.challenge_ttl_seconds)
    public_id = CHALLENGE_ID_PREFIX + secrets.token_urlsafe(32)
    await repo.create_challenge(
        public_id,
        user_id,
        api_key_id,
        now,
        expires_at,
        purpose=purpose.value,
        payload=payload,
        key_revision=key_revision,
    )
    return Challenge(public_id=public_id, expires_at=expires_at, purpose=purpose)
