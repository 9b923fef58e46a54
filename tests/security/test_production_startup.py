"""Production start-up: without ``GQL_KEYS_MASTER_KEY`` a production server generated a
key file beside the database and started; ``/metrics`` was open to anyone. In
production ``gql-keys serve`` now refuses to start without the master key (one clear
line), and ``/metrics`` answers only a monitor service token (development keeps it open).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from harness.keys import monitor_token, verifier_token
from tests.scaleout.cluster import BIN, free_port
from tests.security.conftest import ClientFactory


def test_production_without_a_master_key_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
    env.update(GQL_KEYS_ENV="production", GQL_KEYS_DATA_DIR=str(tmp_path))
    process = subprocess.Popen(
        [str(BIN), "serve", "--port", str(free_port())],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("gql-keys serve started in production without GQL_KEYS_MASTER_KEY")
    assert process.returncode != 0
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "GQL_KEYS_MASTER_KEY" in lines[0]
    assert not (tmp_path / "master.key").exists()


async def test_metrics_in_production_need_a_monitor_token(make_client: ClientFactory) -> None:
    async with make_client(env="production") as client:
        assert (await client.get("/metrics")).status_code == 401
        verifier = await verifier_token()
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {verifier}"})
        assert response.status_code == 403
        monitor = await monitor_token()
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {monitor}"})
        assert response.status_code == 200
        assert "gql_keys_" in response.text
        # A monitor token altered by one character is no token at all.
        altered = monitor[:-1] + ("x" if monitor[-1] != "x" else "y")
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {altered}"})
        assert response.status_code == 401


async def test_metrics_in_development_stay_open(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
