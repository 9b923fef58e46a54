"""One live ``gql-keys serve`` for the examples, with a verifier and a monitor token."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI
from tests.scaleout.cluster import Key, Server, cli, new_key

ROOT = Path(__file__).resolve().parents[2]
PYTHON_EXAMPLES = ROOT / "examples" / "python"
JS_EXAMPLES = ROOT / "examples" / "javascript"


@dataclass
class Live:
    server: Server
    verifier_token: str
    monitor_token: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
    env.update(
        GQL_KEYS_DATA_DIR=str(tmp / "data"),
        GQL_KEYS_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        GQL_KEYS_ARGON2_TIME_COST="1",
        GQL_KEYS_ARGON2_MEMORY_COST="1024",
        GQL_KEYS_LOG_LEVEL="WARNING",
    )
    server = Server(env, tmp / "server.log")
    server.start()  # migrates the fresh SQLite file, so the CLI finds it
    try:
        verifier = cli(env, "service-token", "create", "--name", "gateway", "--role", "verifier")
        monitor = cli(env, "service-token", "create", "--name", "monitor", "--role", "monitor")
        yield Live(server, verifier, monitor)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def node() -> str:
    """Node with the JavaScript examples' dependencies installed from their lock file."""
    found = shutil.which("node")
    if found is None:
        if IN_CI:
            pytest.fail("node is required under CI=true for the JavaScript examples")
        pytest.skip("node not installed: the JavaScript examples are not run")
    if not (JS_EXAMPLES / "node_modules" / "graphql-ws").is_dir():
        npm = shutil.which("npm")
        assert npm is not None, "npm is needed to install the JavaScript examples' dependencies"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS_EXAMPLES, check=True, timeout=300
        )
    return found


def run_example(
    argv: list[str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done


PYTHON = sys.executable


def make_key(url: str, **overrides: object) -> Key:
    """A fresh account with 2FA and one confirmed key, made over GraphQL."""

    async def make() -> Key:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            return await new_key(client, **overrides)

    return asyncio.run(make())


def watch(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    """Start a monitor example and wait until it says it is listening."""
    process = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    assert "listening" in line, line + process.stderr.read()
    return process


def events_while(
    process: subprocess.Popen[str], act: Callable[[], object], tries: int = 10
) -> list[dict[str, Any]]:
    """Repeat ``act`` until the monitor exits (its subscription may start just after
    "listening"), then return the events it printed."""
    for _ in range(tries):
        act()
        try:
            process.wait(timeout=2)
            break
        except subprocess.TimeoutExpired:
            continue
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]
