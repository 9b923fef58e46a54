"""What ``gql-keys serve`` prints first: where to go, in the format the environment wants."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.scaleout.cluster import free_port

GQL_KEYS = str(Path(sys.executable).with_name("gql-keys"))


def serve_output(tmp_path: Path, **variables: str) -> list[str]:
    """The lines ``gql-keys serve`` prints until its app has started, then it is stopped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
    env.update(GQL_KEYS_DATA_DIR=str(tmp_path / "data"), **variables)
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [GQL_KEYS, "serve", "--port", str(free_port())],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "Application startup complete" not in log_path.read_text():
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    return log_path.read_text().splitlines()


def test_development_prints_readable_lines_saying_where_to_go(tmp_path: Path) -> None:
    lines = serve_output(tmp_path)
    assert not any(line.startswith("{") for line in lines)
    first = "\n".join(lines[:5])
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+/$", first, re.MULTILINE)
    assert re.search(r"GraphiQL: http://127\.0\.0\.1:\d+/graphql$", first, re.MULTILINE)
    assert f"data folder: {tmp_path / 'data'}" in first
    assert not any("Tortoise-ORM" in line for line in lines)


@pytest.mark.parametrize(
    "variables", [{"GQL_KEYS_ENV": "production"}, {"GQL_KEYS_LOG_FORMAT": "json"}]
)
def test_production_or_json_format_prints_one_json_object_per_line(
    tmp_path: Path, variables: dict[str, str]
) -> None:
    master_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    lines = serve_output(tmp_path, GQL_KEYS_MASTER_KEY=master_key, **variables)
    entries = [json.loads(line) for line in lines]
    assert entries[0]["logger"] == "gql_keys.serve"
    assert entries[0]["message"].startswith("dashboard: http://127.0.0.1:")
    assert {"time", "level", "logger", "message"} <= set(entries[-1])


def test_no_dashboard_line_when_the_dashboard_is_off(tmp_path: Path) -> None:
    lines = serve_output(tmp_path, GQL_KEYS_DASHBOARD="false")
    assert not any("dashboard:" in line for line in lines)
    assert any("GraphiQL: http://127.0.0.1:" in line for line in lines[:3])
