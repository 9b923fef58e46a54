"""A confirmed key change judges the expiry-notice window at the moment it is applied
(the ``now`` of its transaction), not at a second reading of the clock."""

from __future__ import annotations

from datetime import timedelta

from gql_keys.clock import Clock
from gql_keys.models import ApiKey
from gql_keys.runtime import Runtime
from gql_keys.services.key_changes import apply_update
from harness.accounts import LOCAL_CLIENT
from harness.keys import create_active_key, create_user


async def test_a_change_applied_at_now_moving_expiry_past_the_window_rearms_the_notice(
    rt: Runtime, clock: Clock
) -> None:
    now = clock.now()
    user = await create_user()
    row, _ = await create_active_key(rt, user.id, expires_at=now + timedelta(days=30))
    await ApiKey.filter(id=row.id).update(expiry_notified_at=now)
    row = await ApiKey.get(id=row.id)
    window = timedelta(days=rt.settings.expiry_notice_days)
    new_expiry = now + window + timedelta(hours=1)  # outside the window as of ``now``

    clock.advance(2 * 3600)  # the clock moves on while the transaction runs
    await apply_update(rt, row, {"expires_at": new_expiry.isoformat()}, now, LOCAL_CLIENT)

    stored = await ApiKey.get(id=row.id)
    assert stored.expires_at == new_expiry
    assert stored.expiry_notified_at is None
