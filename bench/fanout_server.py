"""The server process of ``bench.fanout``: one uvicorn worker tuned as ``gql-keys serve``.

Run by path (``python bench/fanout_server.py``), never imported from the ``bench``
package, so that ``bench.fanout --against DIR`` can put another checkout's ``gql_keys``
first on ``PYTHONPATH`` and serve that revision with the same options.

Environment: ``GQL_KEYS_*`` as for ``gql-keys serve``, plus ``BENCH_SERVER_OPTIONS``
(a JSON object of uvicorn options laid over ``server_options``, e.g. ``{"ws": "wsproto"}``)
and ``BENCH_SNAPSHOT`` (a file: trace allocations with ``tracemalloc`` and write a
snapshot there on each ``SIGUSR1``).
"""

from __future__ import annotations

import json
import os
import signal
import tracemalloc
from types import FrameType

import uvicorn

from gql_keys.cli.serve import server_options, serving_app
from gql_keys.settings import load_settings


def main() -> None:
    snapshot_path = os.environ.get("BENCH_SNAPSHOT")
    if snapshot_path:
        tracemalloc.start(1)

        def dump(_signum: int, _frame: FrameType | None) -> None:
            tracemalloc.take_snapshot().dump(snapshot_path + ".part")
            os.replace(snapshot_path + ".part", snapshot_path)

        signal.signal(signal.SIGUSR1, dump)
    options = server_options(load_settings())
    options.update(json.loads(os.environ.get("BENCH_SERVER_OPTIONS") or "{}"))
    uvicorn.run(
        serving_app,
        factory=True,
        host="127.0.0.1",
        port=int(os.environ["GQL_KEYS_PORT"]),
        **options,
    )


if __name__ == "__main__":
    main()
