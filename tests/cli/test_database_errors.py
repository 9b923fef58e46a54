"""A command that cannot open its database says so in one line naming it, and fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GQL_KEYS = str(Path(sys.executable).parent / "gql-keys")
CREATE = ("service-token", "create", "--name", "gateway-1", "--role", "verifier")


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
    return subprocess.run(
        [GQL_KEYS, *args], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gql-keys: ")
    assert "Traceback" not in done.stderr
    return lines[0]


def test_a_data_dir_without_a_database_names_the_file_and_creates_nothing(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "not-the-servers"
    line = one_line_error(run(*CREATE, GQL_KEYS_DATA_DIR=str(data_dir)))
    assert str(data_dir / "gql-keys.sqlite3") in line
    assert "GQL_KEYS_DATA_DIR" in line
    assert not data_dir.exists()


def test_an_unmigrated_database_asks_for_migrate(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite3"
    path.touch()
    line = one_line_error(run(*CREATE, GQL_KEYS_DATABASE_URL=f"sqlite://{path}"))
    assert str(path) in line
    assert "gql-keys migrate" in line


@pytest.mark.parametrize(
    "args",
    [
        CREATE,
        ("service-token", "list"),
        ("logs", "prune", "--older-than", "1d"),
        ("security-events", "prune"),
    ],
)
def test_an_unreachable_database_url_is_named_without_its_password(
    args: tuple[str, ...],
) -> None:
    url = "postgres://gql:hunter2-secret@127.0.0.1:9/keys"  # port 9 (discard): nobody listens
    line = one_line_error(run(*args, GQL_KEYS_DATABASE_URL=url))
    assert "postgres://gql@127.0.0.1:9/keys" in line
    assert "hunter2" not in line


def test_migrate_names_an_unreachable_database() -> None:
    line = one_line_error(run("migrate", GQL_KEYS_DATABASE_URL="postgres://gql@127.0.0.1:9/keys"))
    assert "cannot connect to the database postgres://gql@127.0.0.1:9/keys" in line
