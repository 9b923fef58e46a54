"""``gql-keys keys report-leak`` run as a real command: the secret on standard input."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gql_keys.app import create_app, runtime_of
from gql_keys.security.keymaterial import new_secret
from gql_keys.settings import Settings
from harness.databases import migrate_url
from harness.keys import create_active_key, create_user

GQL_KEYS = str(Path(sys.executable).parent / "gql-keys")


@pytest.fixture
def master_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def database(tmp_path: Path, master_key: str) -> tuple[Path, str, str]:
    """A migrated SQLite file holding one key; its path, KEY and secret."""
    path = tmp_path / "leak.sqlite3"
    settings = Settings(
        data_dir=tmp_path / "data", database_url=f"sqlite://{path}", master_key=master_key
    )

    async def make() -> tuple[str, str]:
        await migrate_url(settings.database_url)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            user = await create_user()
            row, secret = await create_active_key(runtime_of(app), user.id)
            return row.key, secret

    key, secret = asyncio.run(make())
    return path, key, secret


def report(
    path: Path, master_key: str | None, stdin: str, *args: str, **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
    env.update(GQL_KEYS_DATABASE_URL=f"sqlite://{path}", **settings)
    if master_key is not None:
        env["GQL_KEYS_MASTER_KEY"] = master_key
    return subprocess.run(
        [GQL_KEYS, "keys", "report-leak", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def quarantine_of(path: Path, key: str) -> tuple[str | None, str | None]:
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT quarantined_at, quarantine_reason FROM api_keys WHERE key = ?", (key,)
        ).fetchone()
    return row[0], row[1]


def test_a_reported_secret_quarantines_its_key_and_prints_the_key(
    database: tuple[Path, str, str], master_key: str
) -> None:
    path, key, secret = database
    done = report(path, master_key, secret + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == key + "\n"
    assert "quarantined" in done.stderr
    assert secret not in done.stdout + done.stderr
    quarantined_at, reason = quarantine_of(path, key)
    assert quarantined_at is not None
    assert reason == "LEAK_REPORTED"
    again = report(path, master_key, secret)
    assert (again.returncode, again.stdout) == (0, key + "\n")
    assert "already quarantined" in again.stderr


def test_a_secret_no_live_key_has_exits_1(database: tuple[Path, str, str], master_key: str) -> None:
    path, key, _ = database
    unknown = new_secret()
    done = report(path, master_key, unknown)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "no live key has this secret" in done.stderr
    assert unknown not in done.stderr
    assert quarantine_of(path, key) == (None, None)


def test_the_secret_is_refused_on_the_command_line_without_being_echoed(
    database: tuple[Path, str, str], master_key: str
) -> None:
    path, key, secret = database
    done = report(path, master_key, "", secret)
    assert done.returncode != 0
    assert "standard input" in done.stderr
    assert secret not in done.stdout + done.stderr
    assert quarantine_of(path, key) == (None, None)


@pytest.mark.parametrize("stdin", ["", "   \n", "gqks_a gqks_b\n"])
def test_standard_input_must_hold_exactly_one_secret(
    tmp_path: Path, master_key: str, stdin: str
) -> None:
    done = report(tmp_path / "never-opened.sqlite3", master_key, stdin)
    assert done.returncode != 0
    assert "secret" in done.stderr


def test_without_the_servers_master_key_nothing_is_made_up(
    database: tuple[Path, str, str], tmp_path: Path
) -> None:
    path, _, secret = database
    done = report(path, None, secret, GQL_KEYS_DATA_DIR=str(tmp_path / "x"))
    assert done.returncode != 0
    assert "GQL_KEYS_MASTER_KEY" in done.stderr
    assert not (tmp_path / "x" / "master.key").exists()
