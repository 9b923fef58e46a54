"""``gql-keys serve --workers N``: one migration in the parent, N workers whose metrics add
up, clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from harness.accounts import signed_up_user
from harness.databases import create_postgres_database, drop_postgres_database
from tests.conftest import POSTGRES_URL, REDIS_URL, require_service
from tests.scaleout.cluster import (
    BIN,
    cli,
    cluster_env,
    free_port,
    new_key,
    real_clock,
    signed_input,
    verify,
)


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


@dataclass
class Serving:
    parent: subprocess.Popen[bytes]
    port: int
    log_path: Path
    workers: list[int]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> int:
        self.parent.send_signal(signal.SIGTERM)
        return self.parent.wait(40)


@contextmanager
def serve_workers(env: dict[str, str], log_path: Path, workers: int = 2) -> Iterator[Serving]:
    """``gql-keys serve --workers N --migrate``, once every worker has started its app."""
    port = free_port()
    with log_path.open("wb") as log:
        parent = subprocess.Popen(
            [str(BIN), "serve", "--workers", str(workers), "--migrate", "--port", str(port)],
            env={**env, "GQL_KEYS_LOG_LEVEL": "INFO"},
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
        # Ready on one worker; wait until all have started their application.
        while log_path.read_text().count("Application startup complete") < workers:
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        children = children_of(parent.pid)
        assert len(children) >= workers, children
        yield Serving(parent, port, log_path, children)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


@pytest.fixture
def postgres_database() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database and the Redis URL, for one multi-worker server."""
    postgres = require_service("postgres", POSTGRES_URL)
    redis = require_service("redis", REDIS_URL)
    url = asyncio.run(create_postgres_database(postgres, "gql_keys_workers_" + os.urandom(4).hex()))
    try:
        yield url, redis
    finally:
        asyncio.run(drop_postgres_database(postgres, url))


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_two_workers_start_after_one_migration_and_stop_on_sigterm(
    tmp_path: Path, postgres_database: tuple[str, str]
) -> None:
    env = cluster_env(*postgres_database, tmp_path / "data")
    with serve_workers(env, tmp_path / "serve.log") as serving:

        async def use_schema() -> None:
            async with httpx.AsyncClient(base_url=serving.url) as client:
                for _ in range(4):  # new connections: both workers answer
                    await signed_up_user(client, real_clock(), two_factor=False)

        asyncio.run(use_schema())
        assert serving.stop() in (0, -signal.SIGTERM)
        # multiprocessing's resource tracker leaves a moment after the parent does.
        deadline = time.monotonic() + 15
        while [pid for pid in serving.workers if alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in serving.workers if alive(pid)], [
            cmdline(p) for p in serving.workers
        ]
    output = serving.log_path.read_text()
    assert output.count("Application shutdown complete") == 2, output


def verifications_by_worker(folder: Path) -> dict[str, float]:
    """``gql_keys_verifications_total`` as each worker wrote it into the shared folder."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        merged = MultiProcessCollector.merge([str(path)], accumulate=False)  # type: ignore[no-untyped-call]
        counts[path.stem] = sum(
            sample.value
            for metric in merged
            for sample in metric.samples
            if sample.name == "gql_keys_verifications_total"
        )
    return counts


def metrics_folder(worker: int) -> Path:
    environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
    found = [v.split(b"=", 1)[1] for v in environ if v.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
    assert found, "the worker has no PROMETHEUS_MULTIPROC_DIR"
    return Path(found[0].decode())


def scraped_verifications(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("gql_keys_verifications_total{")
    )


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_metrics_count_every_workers_verifications(
    tmp_path: Path, postgres_database: tuple[str, str]
) -> None:
    env = cluster_env(*postgres_database, tmp_path / "data")
    with serve_workers(env, tmp_path / "serve.log") as serving:
        verifier = cli(env, "service-token", "create", "--name", "gateway", "--role", "verifier")
        folder = metrics_folder(serving.workers[0])
        one_request_per_connection = httpx.Limits(max_keepalive_connections=0)

        async def verify_until_both_workers_answered() -> int:
            async with httpx.AsyncClient(base_url=serving.url) as client:
                key = await new_key(client)
            async with httpx.AsyncClient(
                base_url=serving.url, limits=one_request_per_connection, timeout=10
            ) as client:
                sent = 0
                while sent < 400:
                    answers = await asyncio.gather(
                        *(verify(client, verifier, signed_input(key)) for _ in range(10))
                    )
                    assert {a["code"] for a in answers} == {"VALID"}, answers
                    sent += len(answers)
                    by_worker = verifications_by_worker(folder)
                    if len(by_worker) >= 2 and all(by_worker.values()) and sent >= 40:
                        return sent
                raise AssertionError(f"one worker answered everything: {by_worker}")

        sent = asyncio.run(verify_until_both_workers_answered())
        assert len(verifications_by_worker(folder)) == 2

        def scrape() -> float:  # a fresh connection each time: scrapes land on both workers
            response = httpx.get(f"{serving.url}/metrics", headers={"Connection": "close"})
            return scraped_verifications(response.text)

        # Each worker hands its counts to the shared folder within a second (15 s of slack for
        # a busy machine).
        deadline = time.monotonic() + 15
        while scrape() != sent and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [scrape() for _ in range(6)] == [sent] * 6
        # Gauges are the minimum over the running workers: both have Redis and a subscription.
        text = httpx.get(f"{serving.url}/metrics", headers={"Connection": "close"}).text
        assert "\ngql_keys_redis_available 1.0\n" in text
        assert "\ngql_keys_broker_connected 1.0\n" in text
        assert serving.stop() in (0, -signal.SIGTERM)
    assert not folder.exists()
