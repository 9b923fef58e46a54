"""Second-factor challenges on keys: opening one for a purpose, and key events.

A challenge names one key and one purpose and stores what its confirmation applies
(see :class:`~gql_keys.models.KeyChallenge`), so ``verifyTwoFactor`` takes only the
challenge id and a code: the client cannot change the operation between the two calls.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from gql_keys.broker.events import ActivityEvent, ActivityKind, new_event_id
from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.models import ApiKey
from gql_keys.repositories import keys as repo
from gql_keys.repositories import users as users_repo
from gql_keys.runtime import Runtime

CHALLENGE_ID_PREFIX = "kch_"
MAX_CHALLENGE_ID_LENGTH = 64


class ChallengePurpose(StrEnum):
    CREATE_KEY = "CREATE_KEY"
    UPDATE_KEY = "UPDATE_KEY"
    ROLL_KEY = "ROLL_KEY"
    RELEASE_KEY = "RELEASE_KEY"


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
    )


def two_factor_required(action: str) -> DomainError:
    return DomainError(
        ErrorCode.TWO_FACTOR_NOT_ENABLED, f"Enable two-factor authentication to {action}."
    )


async def require_two_factor(user_id: int, action: str) -> None:
    user = await users_repo.get_user(user_id)
    if user is None or not user.two_factor_enabled:
        raise two_factor_required(action)


async def check_open_challenges(rt: Runtime, user_id: int, now: datetime) -> None:
    if await repo.count_open_challenges(user_id, now) >= rt.settings.max_live_keys:
        raise DomainError(ErrorCode.LIMIT_REACHED, "Too many operations are waiting for a code.")


async def open_challenge(
    rt: Runtime,
    user_id: int,
    api_key_id: int,
    purpose: ChallengePurpose,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> Challenge:
    """Store a challenge for ``purpose`` on the key (inside the caller's transaction)."""
    expires_at = now + timedelta(seconds=rt.settings.challenge_ttl_seconds)
    public_id = CHALLENGE_ID_PREFIX + secrets.token_urlsafe(32)
    await repo.create_challenge(
        public_id, user_id, api_key_id, now, expires_at, purpose=purpose.value, payload=payload
    )
    return Challenge(public_id=public_id, expires_at=expires_at, purpose=purpose)
