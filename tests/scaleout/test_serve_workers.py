"""``gql-keys serve --workers N``: one migration in the parent, N workers, clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_URL, REDIS_URL, require_service
from tests.scaleout.cluster import BIN, cluster_env, free_port, real_clock
from tests.support.accounts import signed_up_user
from tests.support.databases import create_postgres_database, drop_postgres_database


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_more_than_one_worker_needs_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
    env["GQL_KEYS_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [str(BIN), "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "GQL_KEYS_REDIS_URL" in done.stderr


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_two_workers_start_after_one_migration_and_stop_on_sigterm(tmp_path: Path) -> None:
    postgres = require_service("postgres", POSTGRES_URL)
    redis = require_service("redis", REDIS_URL)
    url = asyncio.run(create_postgres_database(postgres, "gql_keys_workers_" + os.urandom(4).hex()))
    port = free_port()
    env = cluster_env(url, redis, tmp_path / "data")
    env["GQL_KEYS_LOG_LEVEL"] = "INFO"
    log_path = tmp_path / "serve.log"
    try:
        with log_path.open("wb") as log:
            parent = subprocess.Popen(
                [str(BIN), "serve", "--workers", "2", "--migrate", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 40
            while True:
                assert parent.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            # Ready on one worker; wait until both have started their application.
            while log_path.read_text().count("Application startup complete") < 2:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            workers = children_of(parent.pid)
            assert len(workers) >= 2, workers

            async def use_schema() -> None:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                    for _ in range(4):  # new connections: both workers answer
                        await signed_up_user(client, real_clock(), two_factor=False)

            asyncio.run(use_schema())
            parent.send_signal(signal.SIGTERM)
            assert parent.wait(40) in (0, -signal.SIGTERM)
            # multiprocessing's resource tracker leaves a moment after the parent does.
            deadline = time.monotonic() + 5
            while [pid for pid in workers if alive(pid)] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not [pid for pid in workers if alive(pid)], [cmdline(p) for p in workers]
        finally:
            if parent.poll() is None:
                parent.kill()
                parent.wait()
        output = log_path.read_text()
        assert output.count("Application shutdown complete") == 2, output
    finally:
        asyncio.run(drop_postgres_database(postgres, url))
