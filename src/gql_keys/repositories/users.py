"""Queries on users."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from gql_keys.models import User


class EmailTaken(Exception):
    pass


async def get_user(user_id: int) -> User | None:
    return await User.get_or_none(id=user_id)


async def get_users(user_ids: list[int]) -> dict[int, User]:
    return {u.id: u for u in await User.filter(id__in=user_ids)}


async def get_user_by_email(email: str) -> User | None:
    return await User.get_or_none(email=email)


async def create_user(email: str, password_hash: str) -> User:
    try:
        return await User.create(email=email, password_hash=password_hash)
    except IntegrityError:
        raise EmailTaken(email) from None
