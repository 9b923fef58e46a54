"""Benchmark ``verifyApiRequest`` against a trivial query on the same stack.

``python -m bench.verify`` starts ``gql-keys serve`` on the embedded default (SQLite in a
temporary data folder, in-process limiter and broker, one worker), creates a user, an
HMAC key and a verifier token straight in its database, then runs interleaved rounds of

* floor:  ``{ __typename }`` (parse cache, no resolver, no database), and
* verify: ``verifyApiRequest`` with a freshly signed GET (decision + durable usage-log row),

each over 64 keep-alive HTTP/1.1 connections, driven by ``wrk`` (``-t2``, a Lua script
carrying the POST body) when it is on ``PATH`` and by a built-in asyncio client otherwise
(``--client`` picks one). It prints the median throughput and p50/p99 latency of each,
the ratios against the floor, and checks that every verification answered got its
``usage_logs`` row and that every one of them was allowed.

With ``wrk`` the request is signed afresh before each round (the timestamp must stay
within the +-60 s window, and a signed GET may repeat), one request is checked by hand
to answer ``"allowed":true``, and afterwards the 2xx count from ``wrk``'s summary is
compared with the growth of ``usage_logs`` (and its denied rows, which must stay 0).
``verifyApiRequest`` runs on graphql-core's executor like every other operation; the hot
path for gateways is ``/authz`` (``bench/authz.py`` compares both with the floor).
``--pin`` runs the server on core 0 (``taskset``: its threads, the usage-log writer's
included) and ``wrk`` on core 1, as the house compares figures; it also prints the
server's CPU time per request, which a busy machine disturbs less than throughput.

The floor's p99 is far above its p50 (about 70-130 ms against 11 ms here). That tail is
not ours: a 10-line ASGI app that burns the floor's 170 us per request under the same
uvicorn and ``wrk`` shows it too (p99 120-160 ms, max 400 ms), while verify's requests,
which wait for their group commit, do not. So the p99 goal is also printed against the
floor's p50.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gql_keys.security.signing import hmac_sha512_hex, signing_payload
from harness.keys import create_active_key

VERIFY_QUERY = (
    "mutation V($i: VerifyApiRequestInput!) { verifyApiRequest(input: $i) "
    "{ allowed code rateLimit { remaining } } }"
)
FLOOR_QUERY = "{ __typename }"
GATEWAY_PATH = "/api/v4/spot/orders"
GATEWAY_QUERY = "currency_pair=BTC_USDT&status=open"
EMPTY_SHA512 = hashlib.sha512(b"").hexdigest()
# ``--pin``: the server (its threads included) on core 0, the load generator on core 1.
PIN_SERVER = ["taskset", "-c", "0"]
PIN_WRK = ["taskset", "-c", "1"]


@dataclass
class Credentials:
    key: str
    secret: str
    token: str  # a verifier service token
    monitor: str = ""  # a monitor service token: /metrics needs one in production


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def create_credentials(env: dict[str, str]) -> Credentials:
    """User, active HMAC key (rate limit out of the way), verifier and monitor tokens."""
    from tortoise import Tortoise

    from gql_keys.db import migrate, tortoise_config
    from gql_keys.models import User
    from gql_keys.principals import ServiceRole
    from gql_keys.runtime import build_runtime
    from gql_keys.services import service_tokens
    from gql_keys.settings import load_settings

    settings = load_settings(env)
    await migrate(settings)
    await Tortoise.init(config=tortoise_config(settings))
    try:
        rt = build_runtime(settings)
        user = await User.create(email="bench@example.com", password_hash="unused")
        row, secret = await create_active_key(
            rt, user.id, scopes=["SPOT_WRITE"], rate_limit=(1_000_000, 1)
        )
        key = row.key
        token = await service_tokens.create("bench-gateway", ServiceRole.VERIFIER)
        monitor = await service_tokens.create("bench-monitor", ServiceRole.MONITOR)
        rt.passwords.close()
    finally:
        await Tortoise.close_connections()
    return Credentials(key, secret, token, monitor)


def http_request(port: int, body: bytes, token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\n{auth}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def verify_request(port: int, creds: Credentials, timestamp: int) -> bytes:
    ts = str(timestamp)
    payload = signing_payload("GET", GATEWAY_PATH, GATEWAY_QUERY, EMPTY_SHA512, ts)
    variables = {
        "i": {
            "key": creds.key,
            "signature": hmac_sha512_hex(creds.secret, payload),
            "timestamp": ts,
            "method": "GET",
            "path": GATEWAY_PATH,
            "query": GATEWAY_QUERY,
            "bodySha512": EMPTY_SHA512,
            "clientIp": "203.0.113.7",
            "requiredScope": "SPOT_READ",
        }
    }
    body = json.dumps({"query": VERIFY_QUERY, "variables": variables}).encode()
    return http_request(port, body, creds.token)


class Load:
    """Requests to send: fixed bytes (floor) or re-signed once per second (verify)."""

    def __init__(self, port: int, creds: Credentials | None) -> None:
        self.port, self.creds = port, creds
        self._second = 0
        self._bytes = http_request(port, json.dumps({"query": FLOOR_QUERY}).encode(), None)
        self.expect = b'"__typename"' if creds is None else b'"allowed":true'

    def request(self) -> bytes:
        if self.creds is None:
            return self._bytes
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._bytes = verify_request(self.port, self.creds, second)
        return self._bytes


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


@dataclass
class RoundResult:
    name: str
    completed: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.completed / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


async def run_round(
    name: str, load: Load, port: int, connections: int, warmup: float, duration: float
) -> tuple[RoundResult, int]:
    """Returns the measured result and how many requests of any phase were answered."""
    latencies: list[float] = []
    counts = {"completed": 0, "errors": 0, "answered": 0}
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + duration

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                writer.write(load.request())
                status, body = await read_response(reader)
                done = time.perf_counter()
                counts["answered"] += 1
                ok = status == 200 and load.expect in body
                if sent >= measure_from:
                    if ok:
                        counts["completed"] += 1
                        latencies.append(done - sent)
                    else:
                        counts["errors"] += 1
                if not ok and counts["errors"] <= 1 and sent >= measure_from:
                    print(f"  unexpected response ({status}): {body[:300]!r}", file=sys.stderr)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    result = RoundResult(name, counts["completed"], counts["errors"], duration, latencies)
    return result, counts["answered"]


@dataclass
class Measured:
    """One round's outcome, whichever client produced it."""

    name: str
    rps: float
    p50: float
    p99: float
    errors: int
    answered: int  # requests answered with a 2xx in the whole round, warm-up included


def measured(result: RoundResult, answered: int) -> Measured:
    return Measured(
        result.name,
        result.rps,
        result.percentile(0.5),
        result.percentile(0.99),
        result.errors,
        answered,
    )


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match[1]) * _UNITS[match[2]]


@dataclass
class WrkOutput:
    rps: float
    p50: float
    p99: float
    requests: int
    non_2xx: int
    socket_errors: int


def parse_wrk(out: str) -> WrkOutput:
    """Requests/sec, the ``--latency`` percentiles and the counts from wrk's summary."""
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M)[1])  # type: ignore[index]
    requests = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return WrkOutput(
        rps,
        p50,
        p99,
        requests,
        int(non_2xx[1]) if non_2xx else 0,
        sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


def wrk_script(request: bytes) -> str:
    """A wrk Lua script sending ``request``'s method, headers (but Host/Content-Length,
    which wrk sets) and body."""
    head, body = request.split(b"\r\n\r\n", 1)
    lines = [f"wrk.method = {json.dumps(head.split(b' ', 1)[0].decode())}"]
    lines.append(f"wrk.body = {json.dumps(body.decode())}")
    for line in head.decode().split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() not in ("host", "content-length"):
            lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value.strip())}")
    return "\n".join(lines) + "\n"


async def check_one(port: int, request: bytes, expect: bytes) -> None:
    """Send ``request`` once and insist on a 200 carrying ``expect``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        status, body = await read_response(reader)
    finally:
        writer.close()
    if status != 200 or expect not in body:
        raise SystemExit(f"sample request failed ({status}): {body[:300]!r}")


async def wrk_round(
    name: str,
    load: Load,
    port: int,
    connections: int,
    warmup: float,
    duration: float,
    tmp: str,
    prefix: list[str] | None = None,
) -> Measured:
    """A warm-up and a measured ``wrk`` run with a freshly signed request."""
    request = load.request()
    await check_one(port, request, load.expect)
    script = Path(tmp) / f"{name}.lua"
    script.write_text(wrk_script(request))
    answered, errors, result = 0, 0, None
    for seconds in (warmup, duration):
        if seconds <= 0:
            continue
        command = [*(prefix or []), "wrk", f"-t{min(2, connections)}", f"-c{connections}"]
        command += [f"-d{seconds:g}s"]
        command += ["--latency", "-s", str(script), f"http://127.0.0.1:{port}/graphql"]
        # In a thread: the loop policy installed after start-up cannot watch children.
        proc = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"wrk failed: {proc.stderr}")
        result = parse_wrk(proc.stdout)
        answered += result.requests - result.non_2xx
        errors += result.non_2xx + result.socket_errors
    assert result is not None
    return Measured(name, result.rps, result.p50, result.p99, errors, answered)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if b"200 OK" in s.recv(200):
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not become ready")


def read_metrics(port: int, monitor_token: str) -> dict[str, float]:
    """Every sample of /metrics, by name with its labels, read with a monitor token."""
    request = (
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Authorization: Bearer {monitor_token}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request.encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).decode().partition("\r\n\r\n")
    status = head.split(" ", 2)[1] if head.startswith("HTTP/") else head[:40]
    if status != "200":
        raise SystemExit(f"/metrics answered {status}, not 200")
    values: dict[str, float] = {}
    for line in body.splitlines():
        name, _, value = line.rpartition(" ")
        if name and not line.startswith("#"):
            values[name] = float(value)
    return values


def print_writer_metrics(values: dict[str, float]) -> None:
    """Mean usage-log batch size and commit time."""
    batches = values.get("gql_keys_usage_log_batch_rows_count", 0)
    if batches:
        rows = values["gql_keys_usage_log_batch_rows_sum"]
        flush = values["gql_keys_usage_log_flush_seconds_sum"]
        print(
            f"  usage log: {batches:.0f} commits, {rows / batches:.1f} rows/commit, "
            f"{flush / batches * 1000:.2f} ms/commit"
        )


def count_usage_rows(database: Path, *, denied: bool = False) -> int:
    sql = "SELECT COUNT(*) FROM usage_logs" + (" WHERE NOT allowed" if denied else "")
    with sqlite3.connect(database) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0])


def median(values: list[float]) -> float:
    return statistics.median(values)


async def bench(args: argparse.Namespace) -> int:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    with tempfile.TemporaryDirectory(prefix="gql-keys-bench-") as tmp:
        port = args.port or free_port()
        env = dict(os.environ)
        env.update(
            GQL_KEYS_DATA_DIR=tmp,
            GQL_KEYS_DATABASE_URL="",
            GQL_KEYS_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
            GQL_KEYS_PORT=str(port),
            GQL_KEYS_HOST="127.0.0.1",
            GQL_KEYS_LOG_LEVEL="WARNING",
            GQL_KEYS_ENV="production",
        )
        creds = await create_credentials(env)
        command = [
            *(PIN_SERVER if args.pin else []),
            sys.executable,
            "-c",
            "from gql_keys.cli.main import main; main()",
            "serve",
        ]
        server = subprocess.Popen(command, env=env)
        try:
            wait_ready(port, server)
            print(
                f"server pid {server.pid} on 127.0.0.1:{port}; "
                f"{'wrk' if use_wrk else 'asyncio client'}, {args.connections} connections, "
                f"{args.rounds} rounds x {args.duration:.0f} s (+{args.warmup:.0f} s warm-up)"
            )
            floor_load, verify_load = Load(port, None), Load(port, creds)
            results: dict[str, list[Measured]] = {"floor": [], "verify": []}
            verify_answered = 0
            cpu_ms: dict[str, list[float]] = {"floor": [], "verify": []}
            for r in range(args.rounds):
                order: tuple[str, ...] = ("floor", "verify") if r % 2 == 0 else ("verify", "floor")
                if args.only:
                    order = (args.only,)
                for name in order:
                    load = floor_load if name == "floor" else verify_load
                    cpu_before = cpu_seconds(server.pid)
                    if use_wrk:
                        result = await wrk_round(
                            name,
                            load,
                            port,
                            args.connections,
                            args.warmup,
                            args.duration,
                            tmp,
                            PIN_WRK if args.pin else None,
                        )
                    else:
                        raw, answered = await run_round(
                            name, load, port, args.connections, args.warmup, args.duration
                        )
                        result = measured(raw, answered)
                    cpu_ms[name].append(
                        (cpu_seconds(server.pid) - cpu_before) * 1000 / max(1, result.answered)
                    )
                    if name == "verify":
                        verify_answered += result.answered
                    results[name].append(result)
                    print(
                        f"  round {r + 1} {name:6s} {result.rps:8.0f} req/s  "
                        f"p50 {result.p50:6.1f} ms  "
                        f"p99 {result.p99:6.1f} ms"
                        f"  server CPU {cpu_ms[name][-1]:.3f} ms/req  errors {result.errors}"
                    )
            metrics = read_metrics(port, creds.monitor)
            print_writer_metrics(metrics)
        finally:
            server.terminate()
            server.wait(timeout=60)
        logged = count_usage_rows(Path(tmp) / "gql-keys.sqlite3")
        denied = count_usage_rows(Path(tmp) / "gql-keys.sqlite3", denied=True)

    if args.only:
        return 0
    summary = {
        name: (
            median([r.rps for r in rs]),
            median([r.p50 for r in rs]),
            median([r.p99 for r in rs]),
            median(cpu_ms[name]),
        )
        for name, rs in results.items()
    }
    floor, verify = summary["floor"], summary["verify"]
    print()
    print("| run    | req/s (median) | p50 ms | p99 ms | CPU ms/req |")
    print("|--------|---------------:|-------:|-------:|-----------:|")
    for name, (rps, p50, p99, cpu) in summary.items():
        print(f"| {name:6s} | {rps:14.0f} | {p50:6.1f} | {p99:6.1f} | {cpu:10.3f} |")
    print(
        f"| ratio  | {verify[0] / floor[0]:14.2f} | {verify[1] / floor[1]:6.2f} | "
        f"{verify[2] / floor[2]:6.2f} | {floor[3] / verify[3]:10.2f} |"
    )
    # Per round, the two sides ran back to back: a load that drifts over the run moves
    # both sides of each ratio alike.
    paired = [v.rps / f.rps for f, v in zip(results["floor"], results["verify"], strict=True)]
    print(
        f"verify / floor req/s, median of per-round ratios: {median(paired):.2f} "
        f"({', '.join(f'{x:.2f}' for x in paired)}); floor CPU / verify CPU per request: "
        f"{floor[3] / verify[3]:.2f}"
    )
    # The floor's p99 carries a queueing tail of a saturated single uvicorn worker (the
    # docstring); against the floor's p50 the comparison does not lean on that tail.
    print(f"verify p99 / floor p50: {verify[2] / floor[1]:.2f} (stricter reading of the p99 goal)")
    errors = sum(r.errors for rs in results.values() for r in rs)
    print()
    print(
        f"verifications answered: {verify_answered}, usage_logs rows: {logged} "
        f"({denied} denied), errors: {errors}"
    )
    goals = {
        "every answered verification logged": logged >= verify_answered,
        "every verification allowed, no errors": denied == 0 and errors == 0,
    }
    for goal, met in goals.items():
        print(f"  [{'x' if met else ' '}] {goal}")
    return 0 if all(goals.values()) else 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.verify", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--only", choices=("floor", "verify"), help="run one side (profiling)")
    parser.add_argument(
        "--pin", action="store_true", help="server on core 0, wrk on core 1 (taskset)"
    )
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "asyncio"),
        default="auto",
        help="load generator: wrk when on PATH (auto), or the built-in asyncio client",
    )
    sys.exit(asyncio.run(bench(parser.parse_args())))


if __name__ == "__main__":
    main()
