"""A bad ``GQL_KEYS_*`` value stops any command with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GQL_KEYS = str(Path(sys.executable).with_name("gql-keys"))


def run(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
    env.update(GQL_KEYS_DATA_DIR=str(tmp_path / "data"), **variables)
    return subprocess.run(
        [GQL_KEYS, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [
        (("serve",), "GQL_KEYS_PORT", "eighty"),
        (("serve",), "GQL_KEYS_TRUSTED_PROXIES", "10.0.0.0/8,nonsense"),
        (("serve",), "GQL_KEYS_MASTER_KEY", "not-base64"),
        (("migrate",), "GQL_KEYS_ENV", "staging"),
        (("logs", "prune", "--older-than", "30d"), "GQL_KEYS_MAX_TOKENS", "many"),
    ],
)
def test_a_bad_value_stops_the_command_with_one_line(
    tmp_path: Path, command: tuple[str, ...], variable: str, value: str
) -> None:
    done = run(tmp_path, *command, **{variable: value})
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"gql-keys: {variable}")
    assert value not in lines[0] or variable == "GQL_KEYS_TRUSTED_PROXIES"
    assert not (tmp_path / "data" / "gql-keys.sqlite3").exists()
