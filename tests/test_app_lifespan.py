"""Building and running an app changes nothing process-wide; ``serve`` tunes its workers."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from gql_keys.app import create_app
from gql_keys.cli.serve import GC_THRESHOLDS, SWITCH_INTERVAL
from gql_keys.settings import Settings


async def test_an_app_leaves_the_collector_and_switch_interval_alone(
    tmp_path: Path, master_key: str
) -> None:
    before = (gc.get_threshold(), gc.get_freeze_count(), sys.getswitchinterval())
    app = create_app(Settings(data_dir=tmp_path / "data", master_key=master_key))
    async with app.router.lifespan_context(app):
        assert (gc.get_threshold(), gc.get_freeze_count(), sys.getswitchinterval()) == before
    assert (gc.get_threshold(), gc.get_freeze_count(), sys.getswitchinterval()) == before


def test_a_serving_worker_collects_less_often_and_switches_threads_sooner(
    tmp_path: Path, master_key: str
) -> None:
    script = (
        "import gc, sys\n"
        "from gql_keys.cli.serve import serving_app\n"
        "serving_app()\n"
        # The interval is kept in whole microseconds: print it in them.
        "interval_us = round(sys.getswitchinterval() * 1e6)\n"
        "print(gc.get_threshold(), interval_us, gc.get_freeze_count() > 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
    env.update(GQL_KEYS_DATA_DIR=str(tmp_path), GQL_KEYS_MASTER_KEY=master_key)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    interval_us = round(SWITCH_INTERVAL * 1e6)
    assert done.stdout.split("\n")[0] == f"{GC_THRESHOLDS} {interval_us} True"
