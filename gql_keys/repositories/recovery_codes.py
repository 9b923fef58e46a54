"""Queries on one-time recovery codes (stored only as hashes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from gql_keys.models import RecoveryCode


async def replace_codes(user_id: int, code_hashes: Sequence[str]) -> None:
    """Drop every code of the user and store the new hashes."""
    await RecoveryCode.filter(user_id=user_id).delete()
    await RecoveryCode.bulk_create(
        [RecoveryCode(user_id=user_id, code_hash=h) for h in code_hashes]
    )


async def unused_codes(user_id: int) -> list[RecoveryCode]:
    return await RecoveryCode.filter(user_id=user_id, used_at=None).order_by("id")


async def mark_used(code_id: int, now: datetime) -> bool:
    """Use a code; False when a concurrent request used it first."""
    changed = await RecoveryCode.filter(id=code_id, used_at=None).update(used_at=now)
    return changed == 1


async def delete_codes(user_id: int) -> None:
    await RecoveryCode.filter(user_id=user_id).delete()
