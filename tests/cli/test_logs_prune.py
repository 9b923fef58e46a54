"""``gql-keys logs prune``: deletes old raw rows in batches, keeps rollups, reports."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gql_keys.cli.prune import Progress
from gql_keys.models import UsageLog, UsageRollup
from gql_keys.runtime import Runtime
from gql_keys.services.usage import parse_age
from gql_keys.settings import Settings
from harness.keys import create_active_key, create_user
from tests.api.usage_support import entry, record

GQL_KEYS = str(Path(sys.executable).with_name("gql-keys"))


async def run_cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "GQL_KEYS_DATABASE_URL": settings.database_url,
        "GQL_KEYS_DATA_DIR": str(settings.data_dir),
        "GQL_KEYS_MASTER_KEY": settings.master_key,
    }
    process = await asyncio.create_subprocess_exec(
        GQL_KEYS, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_prune_deletes_old_rows_in_batches_and_keeps_rollups(
    rt: Runtime, settings: Settings
) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    now = datetime.now(UTC)
    old = [entry(key, now - timedelta(days=100, minutes=i)) for i in range(7)]
    recent = [entry(key, now - timedelta(days=10)), entry(None, now - timedelta(days=1))]
    await record(rt, *old, *recent, entry(None, now - timedelta(days=95)))
    rollups_before = await UsageRollup.all().count()

    code, out, err = await run_cli(
        settings, "logs", "prune", "--older-than", "90d", "--batch-size", "3"
    )
    assert code == 0, err
    assert "deleted 8 usage log row(s) older than" in out
    assert "\r" not in out  # no progress bar when not on a terminal
    assert "[" not in out
    assert await UsageLog.all().count() == 2
    assert await UsageRollup.all().count() == rollups_before

    code, out, _ = await run_cli(settings, "logs", "prune", "--older-than", "90d")
    assert code == 0
    assert "deleted 0 usage log row(s)" in out


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_prune_rejects_an_unreadable_age(settings: Settings) -> None:
    code, _, err = await run_cli(settings, "logs", "prune", "--older-than", "ninety days")
    assert code == 2
    assert "90d, 12h or 30m" in err


def test_ages_accept_days_hours_minutes_and_seconds() -> None:
    assert parse_age("90d") == timedelta(days=90)
    assert parse_age("12h") == timedelta(hours=12)
    assert parse_age("30m") == timedelta(minutes=30)
    assert parse_age("45s") == timedelta(seconds=45)
    for bad in ("", "0d", "-1d", "3w", "d90"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_age(bad)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_only_on_a_terminal() -> None:
    terminal = FakeTerminal()
    bar = Progress(terminal)
    bar(5, 10)
    bar(10, 10)
    bar.finish()
    assert terminal.getvalue().startswith("\rpruning [###############---------------] 5/10")
    assert terminal.getvalue().endswith("10/10\n")
    plain = io.StringIO()
    quiet = Progress(plain)
    quiet(5, 10)
    quiet.finish()
    assert plain.getvalue() == ""
