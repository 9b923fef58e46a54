"""CPU per request of the hot path in process, this checkout against another one.

``python -m bench.hotpath`` drives gql-keys' ASGI app directly (no uvicorn, no sockets)
from 64 concurrent callers, each awaiting one request after another, and measures the
CPU time of the whole process per request (every thread: the event loop's and the
usage-log writer's, whose group commits are as durable as under ``serve``). Sides, as in
``bench.authz``: ``floor`` (the bare Starlette app checking the HMAC), ``authz`` (the full
decision and its row), ``graphql`` (``verifyApiRequest``) and ``trivial``
(``{ __typename }``). Each side runs in a fresh process pinned to core 0 (``taskset``),
built like a ``gql-keys serve`` worker (``serving_app``: GC and switch-interval tuning).

``--baseline DIR [DIR ...]`` runs the same children on the code of other checkouts (``git
worktree add /tmp/base <commit>``), interleaved by round; each side is reported by its
median and its fastest round (the one the shared machine disturbed least). What this
leaves out is the HTTP server (uvicorn's parsing and writing), the same for every side;
what it keeps is steadier on a shared machine, where the throughput of ``bench.authz``
swings by 2x between rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

CONCURRENCY = 64
SIDES = ("floor", "authz", "graphql", "trivial")
REQUESTS = {"floor": 20_000, "authz": 20_000, "graphql": 3_000, "trivial": 6_000}


async def _drive(spec: dict[str, Any], requests: int) -> dict[str, float]:
    """The child: build the app, run its lifespan, send ``requests`` requests."""
    from starlette.applications import Starlette

    from bench.authz import floor_app
    from gql_keys.cli.serve import serving_app

    secret = os.environ["BENCH_FLOOR_SECRET"].encode()
    app = serving_app()
    assert isinstance(app, Starlette)
    floor = floor_app(secret)
    target = floor if spec["path"].startswith("/floor/") else app

    lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()
    stopped = asyncio.Event()

    async def lifespan_send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()
        elif message["type"] == "lifespan.shutdown.complete":
            stopped.set()
        elif message["type"].endswith(".failed"):
            raise SystemExit(message)

    running = asyncio.create_task(app({"type": "lifespan"}, lifespan.get, lifespan_send))
    await lifespan.put({"type": "lifespan.startup"})
    await started.wait()

    path, _, query = spec["path"].partition("?")
    body = spec["body"].encode()
    headers = [(k.lower().encode(), v.encode()) for k, v in spec["headers"].items()]
    if body:
        headers.append((b"content-length", str(len(body)).encode()))
    base_scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": spec["method"],
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    expect = spec["expect"].encode()
    failures: list[bytes] = []

    async def one() -> None:
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect while the answer is pending
            raise AssertionError("unreachable")

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                chunks.append(message.get("body", b""))

        await target({**base_scope, "state": {}}, receive, send)
        answer = b"".join(chunks)
        if status != 200 or expect not in answer:
            failures.append(f"{status} ".encode() + answer[:200])

    async def caller(count: int) -> None:
        for _ in range(count):
            await one()

    async def run(total: int) -> None:
        share = total // CONCURRENCY
        await asyncio.gather(*(caller(share) for _ in range(CONCURRENCY)))

    await run(max(CONCURRENCY, requests // 5))  # warm-up: caches, the writer's statements
    cpu, loop, wall = time.process_time(), time.thread_time(), time.perf_counter()
    await run(requests)
    cpu, loop = time.process_time() - cpu, time.thread_time() - loop
    wall = time.perf_counter() - wall
    done = requests // CONCURRENCY * CONCURRENCY

    await lifespan.put({"type": "lifespan.shutdown"})
    await stopped.wait()
    await running
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]!r}")
    return {
        "cpu_us": cpu / done * 1e6,
        "loop_us": loop / done * 1e6,
        "wall_us": wall / done * 1e6,
    }


def child() -> None:
    import uvloop

    spec = json.loads(os.environ["BENCH_HOTPATH_SPEC"])
    import gql_keys

    result: dict[str, Any] = uvloop.run(_drive(spec, int(os.environ["BENCH_HOTPATH_REQUESTS"])))
    result["code"] = str(Path(gql_keys.__file__).parent.parent)
    print(json.dumps(result))


def specs(creds: Any) -> dict[str, dict[str, Any]]:
    from bench.authz import EXPECT, target

    second = int(time.time())
    out = {}
    for side in SIDES:
        t = target(side, 8000, creds, "", second)
        out[side] = {
            "method": t.method,
            "path": t.path,
            "headers": {k: v for k, v in t.headers.items() if k.lower() != "content-length"},
            "body": t.body,
            "expect": EXPECT[side].decode(),
        }
    return out


def run_child(
    env: dict[str, str],
    spec: dict[str, Any],
    requests: int,
    checkout: str | None,
    profile: Path | None = None,
) -> dict[str, float]:
    child_env = {
        **env,
        "BENCH_HOTPATH_SPEC": json.dumps(spec),
        "BENCH_HOTPATH_REQUESTS": str(requests),
    }
    if checkout:
        child_env["PYTHONPATH"] = checkout
    script = str(Path(__file__).resolve())
    command = ["taskset", "-c", "0", sys.executable, script, "--child"]
    if profile is not None:
        py_spy = str(Path(sys.executable).parent / "py-spy")
        sampler = [py_spy, "record", "--native", "-r", "1000", "-f", "raw", "-o", str(profile)]
        command[3:3] = [*sampler, "--"]
    proc = subprocess.run(
        command, env=child_env, cwd=checkout, capture_output=True, text=True, check=False
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"child failed: {proc.stdout[-500:]} {proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(lines[-1])
    return result


async def bench(args: argparse.Namespace) -> None:
    from bench.verify import create_credentials

    sides = args.only or list(SIDES)
    checkouts: dict[str, str | None] = {"": None}
    for folder in args.baseline or ():
        checkouts["@" + Path(folder).name] = str(Path(folder).resolve())
    with tempfile.TemporaryDirectory(prefix="gql-keys-bench-hotpath-") as tmp:
        env = dict(os.environ)
        env.update(
            GQL_KEYS_DATA_DIR=tmp,
            GQL_KEYS_DATABASE_URL="",
            GQL_KEYS_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
            GQL_KEYS_LOG_LEVEL="WARNING",
            GQL_KEYS_ENV="production",
            GQL_KEYS_ACCOUNT_RATE_LIMIT_REQUESTS="1000000000",
        )
        creds = await create_credentials(env)
        env["BENCH_FLOOR_SECRET"] = creds.secret
        results: dict[str, list[dict[str, float]]] = {}
        for r in range(args.rounds):
            order = [(s, c) for s in sides for c in checkouts]
            if r % 2:
                order.reverse()
            for side, suffix in order:
                requests = int(REQUESTS[side] * args.scale)
                folded = None
                if args.profile_out and r == 0:
                    Path(args.profile_out).mkdir(parents=True, exist_ok=True)
                    folded = Path(args.profile_out) / f"{side}{suffix}.folded"
                # Signed afresh: the timestamp must stay within the +-60 s window.
                spec = specs(creds)[side]
                result = run_child(env, spec, requests, checkouts[suffix], folded)
                results.setdefault(side + suffix, []).append(result)
                print(
                    f"  round {r + 1} {side + suffix:19s} CPU {result['cpu_us']:7.1f} us/req"
                    f" (event loop {result.get('loop_us', 0):7.1f}, other threads "
                    f"{result['cpu_us'] - result.get('loop_us', 0):6.1f})"
                    f"  wall {result['wall_us']:7.1f} us/req",
                    flush=True,
                )
    cpu = {name: statistics.median(x["cpu_us"] for x in rs) for name, rs in results.items()}
    fastest = {name: min(x["cpu_us"] for x in rs) for name, rs in results.items()}
    print("\n| side                | CPU us/req, median | fastest round |")
    print("|---------------------|-------------------:|--------------:|")
    for name, value in cpu.items():
        print(f"| {name:19s} | {value:18.1f} | {fastest[name]:13.1f} |")
    for suffix in checkouts:
        for floor, side in (("floor", "authz"), ("trivial", "graphql")):
            if floor + suffix in cpu and side + suffix in cpu:
                print(
                    f"{side + suffix} / {floor + suffix} by CPU per request: "
                    f"{cpu[floor + suffix] / cpu[side + suffix]:.3f}x (median), "
                    f"{fastest[floor + suffix] / fastest[side + suffix]:.3f}x (fastest)"
                )
    for suffix in list(checkouts)[1:]:
        for side in sides:
            if side + suffix in cpu:
                print(
                    f"{side}: {cpu[side]:.1f} us here vs {cpu[side + suffix]:.1f} us at "
                    f"{suffix[1:]} ({cpu[side] / cpu[side + suffix] - 1:+.1%} median, "
                    f"{fastest[side] / fastest[side + suffix] - 1:+.1%} fastest)"
                )


def main() -> None:
    if "--child" in sys.argv:
        child()
        return
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=SIDES)
    parser.add_argument("--scale", type=float, default=1.0, help="requests per run, x")
    parser.add_argument(
        "--baseline", nargs="+", metavar="DIR", help="other checkouts to compare (named by folder)"
    )
    parser.add_argument(
        "--profile-out",
        metavar="DIR",
        help="sample the first round's children with py-spy into DIR/<side>.folded "
        "(the CPU figures of that round include py-spy's pauses)",
    )
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
