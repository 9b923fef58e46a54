"""Queries on users."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from gql_keys.models import User


class EmailTaken(Exception):
    pass


async def get_user(user_id: int) -> User | None:
    return await User.get_or_none(id=user_id)


async def lock_user(user_id: int) -> User | None:
    """The user row, locked until the transaction ends (PostgreSQL; SQLite serialises)."""
    return await User.select_for_update().filter(id=user_id).first()


async def get_user_by_email(email: str) -> User | None:
    return await User.get_or_none(email=email)


async def create_user(email: str, password_hash: str) -> User:
    try:
        return await User.create(email=email, password_hash=password_hash)
    except IntegrityError:
        raise EmailTaken(email) from None


async def advance_totp_step(user_id: int, step: int) -> bool:
    """Record ``step`` as the last accepted TOTP step, only if it is newer.

    One conditional UPDATE: of two requests presenting the same code, exactly one
    changes the row, so a code is accepted at most once per account.
    """
    changed = await User.filter(
        id=user_id, two_factor_enabled=True, totp_last_step__lt=step
    ).update(totp_last_step=step)
    return changed == 1


async def set_pending_seed(user_id: int, sealed: str) -> None:
    await User.filter(id=user_id).update(totp_pending_seed_sealed=sealed)


async def enable_two_factor(user_id: int, pending_sealed: str, step: int) -> bool:
    """Turn the pending seed into the active one; False when another request won."""
    changed = await User.filter(
        id=user_id,
        two_factor_enabled=False,
        totp_pending_seed_sealed=pending_sealed,
        totp_last_step__lt=step,
    ).update(
        totp_seed_sealed=pending_sealed,
        totp_pending_seed_sealed=None,
        two_factor_enabled=True,
        totp_last_step=step,
    )
    return changed == 1


async def set_password_hash(user_id: int, password_hash: str) -> None:
    await User.filter(id=user_id).update(password_hash=password_hash)


async def disable_two_factor(user_id: int) -> bool:
    """Turn 2FA off and destroy the seeds (not just flag them); False when it was off."""
    changed = await User.filter(id=user_id, two_factor_enabled=True).update(
        two_factor_enabled=False, totp_seed_sealed=None, totp_pending_seed_sealed=None
    )
    return changed == 1
