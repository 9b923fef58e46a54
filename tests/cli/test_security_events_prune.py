"""Security events outlive ``logs prune``; ``security-events prune`` applies their retention."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

from gql_keys.models import SecurityEvent
from gql_keys.runtime import Runtime
from gql_keys.services.security_events import SecurityEventKind, record
from gql_keys.settings import Settings
from harness.accounts import LOCAL_CLIENT
from harness.keys import create_user
from tests.cli.test_logs_prune import GQL_KEYS

DAY = 86_400


async def run_cli(settings: Settings, *args: str, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        GQL_KEYS,
        *args,
        env={
            **os.environ,
            "GQL_KEYS_DATABASE_URL": settings.database_url,
            "GQL_KEYS_DATA_DIR": str(settings.data_dir),
            "GQL_KEYS_MASTER_KEY": settings.master_key,
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def events_aged(rt: Runtime, *days: int) -> None:
    """One LOGIN_FAILED per age, recorded as if ``days`` ago."""
    user = await create_user()
    for age in days:
        rt.clock.advance(-age * DAY)
        try:
            await record(rt, user.id, SecurityEventKind.LOGIN_FAILED, LOCAL_CLIENT)
        finally:
            rt.clock.advance(age * DAY)


async def ages() -> list[int]:
    rows = await SecurityEvent.all().order_by("occurred_at")
    now = max(row.occurred_at for row in rows) if rows else None
    return [round((now - row.occurred_at) / timedelta(days=1)) for row in rows] if now else []


async def test_logs_prune_leaves_security_events_alone(rt: Runtime, settings: Settings) -> None:
    await events_aged(rt, 500, 100, 0)
    code, out, err = await run_cli(settings, "logs", "prune", "--older-than", "1d")
    assert code == 0, err
    assert "deleted 0 usage log row(s)" in out
    assert await SecurityEvent.all().count() == 3


async def test_security_events_prune_deletes_only_rows_past_the_retention(
    rt: Runtime, settings: Settings
) -> None:
    await events_aged(rt, 500, 401, 399, 1, 0)
    code, out, err = await run_cli(settings, "security-events", "prune", "--batch-size", "1")
    assert code == 0, err
    assert "deleted 2 security event(s) older than" in out
    assert await ages() == [399, 1, 0]

    code, out, err = await run_cli(
        settings, "security-events", "prune", GQL_KEYS_SECURITY_EVENT_RETENTION_DAYS="30"
    )
    assert code == 0, err
    assert "deleted 1 security event(s)" in out
    assert await ages() == [1, 0]
