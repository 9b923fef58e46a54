"""Fan-out benchmark: 5,000 dashboard tabs plus a monitor on one worker.

``python -m bench.fanout`` seeds an embedded gql-keys (SQLite in a temporary folder,
in-process broker) with 100 users x 50 HMAC keys, a dashboard session per user, a
verifier and a monitor token. Each run then starts one uvicorn worker tuned as
``gql-keys serve`` (``bench/fanout_server.py``) pinned with its threads to core 0, and on
core 1:

* ``--clients`` subscriber processes (default 2) holding the sockets between them: 50
  tabs per user (each user's cap), each subscribed as the dashboard subscribes (every
  key of its user, ``apiKey { id label }`` included; ``--watch key``: only its own key;
  ``--document lean``: ``id kind occurredAt key code`` only),
  and one monitor subscribed to everything, all over ``--protocol``; like the
  dashboard's client they ping every 10 s and answer the server's pings;
* after ``--idle`` seconds with every socket open (idle CPU and RSS are read then), a
  gateway process sending ``--rate`` ``verifyApiRequest`` a second on random keys for
  ``--seconds`` (open loop). Each one is a ``KEY_USED`` event for the 50 tabs of its
  key's owner and the monitor: 51 deliveries.

Each event's latency is its receipt time in the client minus its ``occurredAt`` (one
host, one clock). A run reports: whether every socket received every event it may see
exactly once (what it should have received comes from the usage rows the server
committed, each one an event) and none it may not, sockets the server closed (a healthy
client must never be closed as a slow consumer), p50/p99/max latency over all
deliveries, verifications answered per second, the server's RSS with the sockets open
and at its peak, and its CPU (share of core 0) idle and under load.

``--variant NAME[:OPTION=VALUE,...][@DIR]`` (repeatable) compares servers side by side
in one run, rounds interleaved: OPTIONs are uvicorn options laid over gql-keys' own
(``ws=wsproto``, ``ws_per_message_deflate=true``); ``@DIR`` serves another checkout of
gql-keys (e.g. ``git archive main | tar -x -C /tmp/gql-keys-main``) with the same seeded
data. Medians over ``--rounds`` are printed per variant with the ratio to the first.
Goals (for the served configuration of this checkout): every event delivered, p99 <= 250
ms, RSS <= 400 MB, at least 99% of ``--rate`` verifications answered per second.

``--profile SECONDS`` samples the server with py-spy during the load of one extra run and
prints where its time goes; ``--memory`` traces allocations (tracemalloc) in one extra
run and prints what the sockets hold, per socket, by module and by line.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.fanout_clients import (
    LEGACY_WS,
    TRANSPORT_WS,
    Gateway,
    Received,
    Watch,
    gateway_process,
    subscriber_process,
)
from bench.verify import cpu_seconds, free_port, wait_ready
from harness.accounts import LOCAL_CLIENT
from harness.keys import create_active_key

SERVER_SCRIPT = Path(__file__).with_name("fanout_server.py")
SERVER_CORE, LOAD_CORE = 0, 1
SETTLE_SECONDS = 2.0  # after the last verification, for the events still in flight


@dataclass
class Seeded:
    data_dir: Path
    master_key: str
    keys: list[tuple[str, str]]  # (public key, secret)
    watches: list[Watch]  # the tabs, then the monitor
    verifier: str


@dataclass(frozen=True)
class Variant:
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    tree: Path | None = None

    @property
    def served(self) -> bool:
        """This checkout, served as ``gql-keys serve`` serves it."""
        return not self.options and self.tree is None

    @classmethod
    def parse(cls, spec: str) -> Variant:
        spec, _, tree = spec.partition("@")
        name, _, pairs = spec.partition(":")
        options: dict[str, Any] = {}
        for pair in filter(None, pairs.split(",")):
            option, _, text = pair.partition("=")
            try:
                options[option] = json.loads(text)
            except ValueError:
                options[option] = text
        return cls(name or "this", options, Path(tree).resolve() if tree else None)


@dataclass
class Run:
    variant: str
    subscriptions: int
    open_seconds: float
    idle_rss: float
    peak_rss: float
    idle_cpu: float  # share of one core
    load_cpu: float
    load_cpu_seconds: float  # the server's CPU time from the first verification to settled
    gateway: Gateway
    received: Received
    expected: list[int]  # events each socket should have received, in watch order
    logged: int  # usage rows committed (each one an event)

    @property
    def rate(self) -> float:
        """Verifications allowed per second, from the first sent to the last answered (a
        request that waited past the signature window is denied: it does not count)."""
        return self.gateway.allowed / self.gateway.seconds if self.gateway.seconds else 0.0

    @property
    def cpu_per_event(self) -> float:
        """Server CPU ms per verification and its fan-out (idle work included): less
        sensitive to a busy machine than latency; one core serves 1000/this a second."""
        return self.load_cpu_seconds * 1000 / self.logged if self.logged else float("nan")

    @property
    def latencies(self) -> list[float]:
        return self.received.tab_latencies + self.received.monitor_latencies

    @property
    def delivered(self) -> int:
        """Distinct events received, summed over the sockets (at most one per socket)."""
        return sum(min(distinct, want) for (_, distinct), want in self._pairs())

    @property
    def deliveries(self) -> int:
        return sum(self.expected)

    @property
    def duplicates(self) -> int:
        return sum(total - distinct for total, distinct in self.received.counts)

    @property
    def all_delivered(self) -> bool:
        return (
            all(distinct == want for (_, distinct), want in self._pairs())
            and self.duplicates == 0
            and self.received.foreign == 0
        )

    def _pairs(self) -> list[tuple[tuple[int, int], int]]:
        return list(zip(self.received.counts, self.expected, strict=True))


def expected_counts(watches: list[Watch], logged: collections.Counter[str]) -> list[int]:
    total = logged.total()
    return [total if w.keys is None else sum(logged[key] for key in w.keys) for w in watches]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def seed(users: int, tabs: int, watch: str) -> Seeded:
    """``users`` with ``tabs`` keys each; a tab per key, watching all the user's keys
    (``watch="all"``, as the dashboard does) or only its own (``"key"``)."""
    from tortoise import Tortoise

    from gql_keys.db import migrate, tortoise_config
    from gql_keys.global_ids import encode_global_id
    from gql_keys.models import User
    from gql_keys.principals import ServiceRole
    from gql_keys.runtime import build_runtime
    from gql_keys.services import service_tokens
    from gql_keys.services.sessions import start_session
    from gql_keys.settings import load_settings

    data_dir = Path(tempfile.mkdtemp(prefix="gql-keys-bench-fanout-"))
    master_key = base64.b64encode(os.urandom(32)).decode()
    settings = load_settings(server_env(data_dir, master_key, 0))
    await migrate(settings)
    await Tortoise.init(config=tortoise_config(settings))
    keys: list[tuple[str, str]] = []
    watches: list[Watch] = []
    try:
        rt = build_runtime(settings)
        for u in range(users):
            user = await User.create(email=f"fan{u}@example.com", password_hash="unused")
            session = await start_session(rt, user.id, LOCAL_CLIENT)
            rows = [await create_active_key(rt, user.id, scopes=["SPOT_READ"]) for _ in range(tabs)]
            keys += [(row.key, secret) for row, secret in rows]
            theirs = frozenset(row.key for row, _ in rows)
            for row, _ in rows:
                if watch == "all":
                    watches.append(Watch(session, None, theirs))
                else:
                    watches.append(
                        Watch(session, [encode_global_id("ApiKey", row.id)], frozenset([row.key]))
                    )
        verifier = await service_tokens.create("fan-gateway", ServiceRole.VERIFIER)
        monitor = await service_tokens.create("fan-monitor", ServiceRole.MONITOR)
        watches.append(Watch(monitor, None, None))
        rt.passwords.close()
    finally:
        await Tortoise.close_connections()
    return Seeded(data_dir, master_key, keys, watches, verifier)


def server_env(data_dir: Path, master_key: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "GQL_KEYS_DATA_DIR": str(data_dir),
        "GQL_KEYS_DATABASE_URL": "",
        "GQL_KEYS_REDIS_URL": "",
        "GQL_KEYS_MASTER_KEY": master_key,
        "GQL_KEYS_LOG_LEVEL": "WARNING",
        "GQL_KEYS_PORT": str(port),
    }


def start_server(
    seeded: Seeded, variant: Variant, pin: bool, snapshot: Path | None = None
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """The server on a copy of the seeded data (every run starts from the same rows)."""
    data = Path(tempfile.mkdtemp(prefix="gql-keys-bench-fanout-run-"))
    shutil.copytree(seeded.data_dir, data, dirs_exist_ok=True)
    port = free_port()
    env = server_env(data, seeded.master_key, port)
    env["BENCH_SERVER_OPTIONS"] = json.dumps(variant.options)
    if variant.tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(variant.tree), env.get("PYTHONPATH")])
        )
    if snapshot is not None:
        env["BENCH_SNAPSHOT"] = str(snapshot)
    command = [sys.executable, str(SERVER_SCRIPT)]
    if pin:
        # taskset before exec: every thread the server starts inherits core 0.
        command = ["taskset", "-c", str(SERVER_CORE), *command]
    server = subprocess.Popen(command, env=env, stderr=(data / "server.log").open("wb"))
    try:
        wait_ready(port, server, timeout=600 if snapshot else 60)
    except BaseException:
        server.kill()
        print((data / "server.log").read_text()[-2000:], file=sys.stderr)
        raise
    return server, port, data


async def receive(pipe: Connection, timeout: float) -> Any:
    if not await asyncio.to_thread(pipe.poll, timeout):
        raise SystemExit(f"a load process said nothing for {timeout:g} s")
    return pipe.recv()


async def one_run(
    seeded: Seeded,
    variant: Variant,
    args: argparse.Namespace,
    *,
    profile: float = 0.0,
    memory: bool = False,
) -> Run | None:
    """One server, its sockets, an idle window and a load window; None for ``memory``."""
    snapshot = Path(tempfile.mkdtemp()) / "heap.snapshot" if memory else None
    server, port, data = start_server(seeded, variant, args.pin, snapshot)
    load_core = LOAD_CORE if args.pin else None
    mp = multiprocessing.get_context("spawn")
    children: list[Any] = []
    try:
        if snapshot is not None:
            before_sockets = take_snapshot(server.pid, snapshot)
        pipes: list[Connection] = []
        shares = [seeded.watches[i :: args.clients] for i in range(args.clients)]
        url = f"ws://127.0.0.1:{port}/graphql"
        for share in shares:
            mine, theirs = mp.Pipe()
            child = mp.Process(
                target=subscriber_process,
                args=(theirs, url, args.protocol, args.document, share, load_core),
            )
            child.start()
            children.append(child)
            pipes.append(mine)
        started = time.perf_counter()
        opened = sum([(await receive(p, 600))[1] for p in pipes])
        open_seconds = time.perf_counter() - started
        cpu = cpu_seconds(server.pid)
        await asyncio.sleep(args.idle)
        idle_cpu = (cpu_seconds(server.pid) - cpu) / args.idle
        idle_rss = peak = rss_mb(server.pid)
        if snapshot is not None:
            print_memory(before_sockets, take_snapshot(server.pid, snapshot), opened)
            return None
        mine, theirs = mp.Pipe()
        gateway = mp.Process(
            target=gateway_process,
            args=(
                theirs,
                f"http://127.0.0.1:{port}",
                seeded.verifier,
                seeded.keys,
                args.rate,
                args.seconds,
                load_core,
            ),
        )
        spy = start_py_spy(server.pid, min(profile, args.seconds), data) if profile else None
        cpu, load_started = cpu_seconds(server.pid), time.perf_counter()
        gateway.start()
        children.append(gateway)
        while not await asyncio.to_thread(mine.poll, 0.2):
            peak = max(peak, rss_mb(server.pid))
            if not gateway.is_alive() and not mine.poll():
                raise SystemExit("the gateway process died")
        measured: Gateway = mine.recv()
        load_cpu = (cpu_seconds(server.pid) - cpu) / (time.perf_counter() - load_started)
        await asyncio.sleep(SETTLE_SECONDS)
        load_cpu_seconds = cpu_seconds(server.pid) - cpu
        peak = max(peak, rss_mb(server.pid))
        for pipe in pipes:
            pipe.send("stop")
        received = Received()
        for pipe in pipes:
            part: Received = await receive(pipe, 120)
            merge(received, part)
        if spy is not None:
            print_profile(spy, data)
        stop(server, data, variant)
        # Every usage row committed is an event published: what each socket should have.
        logged = logged_by_key(data / "gql-keys.sqlite3")
        watches = [w for share in shares for w in share]  # the order of received.counts
        return Run(
            variant.name,
            opened,
            open_seconds,
            idle_rss,
            peak,
            idle_cpu,
            load_cpu,
            load_cpu_seconds,
            measured,
            received,
            expected_counts(watches, logged),
            logged.total(),
        )
    finally:
        stop(server, data, variant)
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
        shutil.rmtree(data, ignore_errors=True)


def stop(server: subprocess.Popen[bytes], data: Path, variant: Variant) -> None:
    """SIGINT (uvicorn's graceful stop, which flushes the usage log), once."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    if log := (data / "server.log").read_text(errors="replace").strip():
        print(f"server log ({variant.name}), last lines:\n{log[-1500:]}", file=sys.stderr)


def logged_by_key(database: Path) -> collections.Counter[str]:
    sql = (
        "SELECT k.key, COUNT(*) FROM usage_logs u JOIN api_keys k ON k.id = u.api_key_id "
        "GROUP BY k.key"
    )
    with sqlite3.connect(database) as conn:
        return collections.Counter({key: int(n) for key, n in conn.execute(sql)})


def merge(into: Received, part: Received) -> None:
    into.opened += part.opened
    into.tab_latencies += part.tab_latencies
    into.monitor_latencies += part.monitor_latencies
    into.counts += part.counts
    into.foreign += part.foreign
    into.closed.update(part.closed)
    into.pongs += part.pongs


def take_snapshot(pid: int, path: Path) -> tracemalloc.Snapshot:
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    for _ in range(600):
        if path.exists():
            return tracemalloc.Snapshot.load(str(path))
        time.sleep(0.1)
    raise SystemExit("the server wrote no allocation snapshot")


def _package(filename: str) -> str:
    """``uvicorn``, ``websockets``, ``gql_keys/graphql``…: where an allocation was made."""
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    for root in ("gql_keys",):
        if root in parts:
            at = parts.index(root)
            return "/".join(parts[at : at + 2]).removesuffix(".py")
    if "lib" in parts:  # the standard library
        return parts[-1].removesuffix(".py")
    return filename


def print_memory(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, sockets: int) -> None:
    """What the open sockets hold, per socket: by package and by allocating line."""
    per = max(1, sockets)
    by_file = after.compare_to(before, "filename")
    grown = sum(stat.size_diff for stat in by_file)
    print(f"\nPython heap held by {sockets} open sockets (tracemalloc, after - before):")
    print(f"  {grown / 2**20:.1f} MB in all, {grown / per / 1024:.1f} KB per socket")
    packages: collections.Counter[str] = collections.Counter()
    for stat in by_file:
        packages[_package(stat.traceback[0].filename)] += stat.size_diff
    for name, size in packages.most_common(12):
        print(f"  {size / per / 1024:7.2f} KB/socket  {name}")
    print("largest allocating lines:")
    for stat in after.compare_to(before, "lineno")[:15]:
        frame = stat.traceback[0]
        where = "/".join(Path(frame.filename).parts[-2:])
        print(
            f"  {stat.size_diff / per / 1024:7.2f} KB/socket {stat.count_diff / per:6.1f} "
            f"blocks/socket  {where}:{frame.lineno}"
        )


def start_py_spy(pid: int, seconds: float, data: Path) -> subprocess.Popen[bytes] | None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("profile skipped: py-spy is not installed")
        return None
    out = data / "fanout.folded"
    command = [py_spy, "record", "-p", str(pid), "-d", f"{seconds:g}", "-r", "250"]
    command += ["-f", "raw", "-o", str(out), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


# Where a sample's time goes: the innermost frame that matches a bucket.
BUCKETS = (
    ("JSON encode/decode", ("json/", "_json")),
    ("permessage-deflate (zlib)", ("permessage_deflate", "zlib")),
    ("hub fan-out (filters, queues)", ("broker/hub.py", "services/activity.py")),
    ("credential watchdogs", ("activity/transport.py", "services/auth.py")),
    ("usage-log writer", ("usage/writer.py", "usage_writes.py", "sqlite3", "concurrent/futures")),
    ("verification", ("services/verification.py", "security/", "key_cache.py", "limits/")),
    ("Tortoise / SQLite queries", ("tortoise/", "aiosqlite", "pypika")),
    ("Strawberry subscriptions protocol", ("strawberry/subscriptions",)),
    ("Strawberry / graphql-core execution", ("strawberry/", "graphql/")),
    ("WebSocket protocol (websockets, wsproto)", ("websockets/", "wsproto/", "h11/")),
    ("uvicorn (HTTP, WebSocket glue)", ("uvicorn/", "httptools")),
    ("Starlette", ("starlette/",)),
    ("gql-keys GraphQL layer", ("gql_keys/graphql",)),
    ("event loop (uvloop, asyncio)", ("uvloop", "asyncio/")),
)


def _bucket(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, markers in BUCKETS:
            if any(marker in frame for marker in markers):
                return name
    return "other"


def print_profile(spy: subprocess.Popen[bytes], data: Path) -> None:
    _, err = spy.communicate(timeout=120)
    out = data / "fanout.folded"
    if not out.exists():
        print(f"profile skipped: py-spy could not sample ({err.decode()[-300:]})")
        return
    totals: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in out.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        samples += int(count_text)
        totals[_bucket(frames)] += int(count_text)
        leaves[frames[-1]] += int(count_text)
    if not samples:
        print("profile: no samples")
        return
    print(f"\nfan-out profile under load ({samples} samples of busy threads, innermost frame):")
    for name, count in totals.most_common():
        print(f"  {count / samples:6.1%}  {name}")
    print("hottest leaf functions:")
    for frame, count in leaves.most_common(12):
        print(f"  {count / samples:6.1%}  {frame[:110]}")


def print_run(run: Run, r: int) -> None:
    closed = ",".join(f"{code}x{n}" for code, n in sorted(run.received.closed.items())) or "-"
    lat = run.latencies
    print(
        f"  round {r} {run.variant:14s} open {run.open_seconds:5.1f} s  "
        f"allowed {run.gateway.allowed}/{run.gateway.sent} (rows {run.logged}, "
        f"failed {run.gateway.failed})  "
        f"RSS {run.idle_rss:4.0f}/{run.peak_rss:4.0f} MB  CPU idle {run.idle_cpu:4.0%} "
        f"load {run.load_cpu:4.0%} ({run.cpu_per_event:.2f} ms/event)  {run.rate:5.1f} verif/s  "
        f"delivered {run.delivered}/{run.deliveries}"
        f"{'' if run.all_delivered else ' (NOT ALL, ONCE)'}  p50 {pct(lat, 0.5):6.1f} "
        f"p99 {pct(lat, 0.99):7.1f} max {max(lat, default=float('nan')):7.1f} ms  "
        f"closed {closed}",
        flush=True,
    )


def summarise(runs: dict[str, list[Run]], args: argparse.Namespace) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for name, rs in runs.items():
        table[name] = {
            "p50 ms": statistics.median(pct(r.latencies, 0.5) for r in rs),
            "p99 ms": statistics.median(pct(r.latencies, 0.99) for r in rs),
            "max ms": statistics.median(max(r.latencies, default=float("nan")) for r in rs),
            "verif/s": statistics.median(r.rate for r in rs),
            "RSS idle MB": statistics.median(r.idle_rss for r in rs),
            "RSS peak MB": statistics.median(r.peak_rss for r in rs),
            "CPU idle": statistics.median(r.idle_cpu for r in rs),
            "CPU load": statistics.median(r.load_cpu for r in rs),
            "CPU ms/event": statistics.median(r.cpu_per_event for r in rs),
            "open s": statistics.median(r.open_seconds for r in rs),
        }
    names = list(table)
    columns = list(table[names[0]])
    print(f"\nmedians of {args.rounds} rounds:")
    print("| variant | " + " | ".join(columns) + " | all delivered | closed by server |")
    print("|---" * (len(columns) + 3) + "|")
    for name in names:
        row = table[name]
        cells = [
            f"{row[c]:.0%}"
            if c in ("CPU idle", "CPU load")
            else f"{row[c]:.2f}"
            if c == "CPU ms/event"
            else f"{row[c]:.1f}"
            for c in columns
        ]
        delivered = all(r.all_delivered for r in runs[name])
        closed = sum(sum(r.received.closed.values()) for r in runs[name])
        print(
            f"| {name} | " + " | ".join(cells) + f" | {'yes' if delivered else 'NO'} | {closed} |"
        )
    if len(names) > 1:
        first = table[names[0]]
        for name in names[1:]:
            ratios = ", ".join(f"{c} {table[name][c] / first[c]:.2f}x" for c in columns if first[c])
            print(f"{name} / {names[0]}: {ratios}")
    return table


async def bench(args: argparse.Namespace) -> int:
    variants = [Variant.parse(v) for v in args.variant] or [Variant("this")]
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    seeded = await seed(args.users, args.tabs, args.watch)
    print(
        f"{len(seeded.watches) - 1} tabs ({args.users} users x {args.tabs}, each watching "
        f"{'its user' if args.watch == 'all' else 'its key'}) + 1 monitor, {args.document} "
        f"fields, over "
        f"{args.protocol}, {args.clients} client processes; {args.rate:g} verifications/s "
        f"for {args.seconds:g} s; server on core {SERVER_CORE}, load on core {LOAD_CORE}"
        + ("" if args.pin else " (NOT pinned)")
    )
    runs: dict[str, list[Run]] = {v.name: [] for v in variants}
    try:
        for r in range(1, args.rounds + 1):
            for variant in variants if r % 2 else list(reversed(variants)):
                run = await one_run(seeded, variant, args)
                assert run is not None
                runs[variant.name].append(run)
                print_run(run, r)
        if args.rounds:
            summarise(runs, args)
        if args.profile:
            await one_run(seeded, variants[0], args, profile=args.profile)
        if args.memory:
            await one_run(seeded, variants[0], args, memory=True)
    finally:
        shutil.rmtree(seeded.data_dir, ignore_errors=True)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ok = True
    for variant in variants:
        if not variant.served or not runs[variant.name]:
            continue
        rs = runs[variant.name]
        goals = {
            "every event delivered once, to its tab and the monitor only": all(
                r.all_delivered for r in rs
            ),
            "no healthy socket closed": all(not r.received.closed for r in rs),
            "p99 <= 250 ms": statistics.median(pct(r.latencies, 0.99) for r in rs) <= 250,
            "RSS <= 400 MB": statistics.median(r.peak_rss for r in rs) <= 400,
            f"{args.rate:g} verifications/s allowed": statistics.median(r.rate for r in rs)
            >= 0.99 * args.rate,
        }
        print(f"goals ({variant.name}):")
        for goal, met in goals.items():
            print(f"  [{'x' if met else ' '}] {goal}")
        ok = ok and all(goals.values())
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--tabs", type=int, default=50, help="tabs (keys watched) per user")
    parser.add_argument("--clients", type=int, default=2, help="subscriber processes")
    parser.add_argument(
        "--document",
        choices=("dashboard", "lean"),
        default="dashboard",
        help="what each socket selects: the dashboard's fields (apiKey included) or "
        "id kind occurredAt key code",
    )
    parser.add_argument(
        "--watch",
        choices=("all", "key"),
        default="all",
        help="a tab watches all its user's keys (the dashboard) or only its own key",
    )
    parser.add_argument("--protocol", choices=(TRANSPORT_WS, LEGACY_WS), default=TRANSPORT_WS)
    parser.add_argument("--rate", type=float, default=100.0, help="verifications per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the load")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before the load")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME[:OPTION=VALUE,...][@DIR]",
        help="a server to compare (repeatable; default: this checkout as served)",
    )
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin cores")
    parser.add_argument("--profile", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--memory", action="store_true", help="trace what the sockets hold")
    sys.exit(asyncio.run(bench(parser.parse_args())))


if __name__ == "__main__":
    main()
