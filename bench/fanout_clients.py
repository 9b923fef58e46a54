"""The load of ``bench.fanout``: subscriber processes holding the sockets, and a gateway.

Each runs in a process of its own (``multiprocessing``, spawned), pinned to the load
generator's core, and talks to the orchestrator over a pipe: a subscriber process opens
its share of the sockets, says ``ready``, keeps reading until told ``stop`` and answers
with what it received; the gateway sends verifications at a fixed rate (open loop: a
slow server does not slow the schedule) and answers with what it measured.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from gql_keys.security.signing import hmac_sha512_hex, signing_payload

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
EMPTY_SHA512 = hashlib.sha512(b"").hexdigest()
PATH = "/api/v4/spot/orders"
QUERY = "currency_pair=BTC_USDT"
VERIFY = "mutation V($i: VerifyApiRequestInput!) { verifyApiRequest(input: $i) { allowed code } }"
# What the dashboard (gql_keys/dashboard/static/js/activity.js) and the example monitor
# ask, and a lean selection without the key read (what this benchmark used to ask).
DOCUMENTS = {
    "dashboard": """subscription Activity($k: [ID!]) { keyActivity(keyIds: $k) {
  id kind occurredAt key code clientIp method path apiKey { id label }
} }""",
    "lean": """subscription Activity($k: [ID!]) { keyActivity(keyIds: $k) {
  id kind occurredAt key code
} }""",
}
OPENING_AT_ONCE = 100
KEEPALIVE_SECONDS = 10.0  # the dashboard's graphql-ws client pings this often


@dataclass(frozen=True)
class Watch:
    """One socket with one subscription: a dashboard tab, or the monitor."""

    token: str
    key_ids: list[str] | None  # global ids for ``keyIds``; None: every key it may see
    keys: frozenset[str] | None  # the public ids it may see events of; None: any (monitor)


@dataclass
class Received:
    """What one subscriber process saw."""

    opened: int = 0
    tab_latencies: list[float] = field(default_factory=list)
    monitor_latencies: list[float] = field(default_factory=list)
    # Per socket, in the order of the watches given: events received, distinct ids.
    counts: list[tuple[int, int]] = field(default_factory=list)
    foreign: int = 0  # events on a tab of a key it may not see
    closed: Counter[int] = field(default_factory=Counter)  # close codes the server sent
    pongs: int = 0


@dataclass
class Gateway:
    """What the gateway measured."""

    sent: int
    answered: Counter[str]  # verifications answered, by key
    allowed: int
    failed: int  # transport errors and answers without a decision
    seconds: float  # from the first send to the last answer
    round_trips: list[float]


def pin(core: int | None) -> None:
    """Run this process (and the threads it starts later) on ``core`` only."""
    if core is not None:
        os.sched_setaffinity(0, {core})


def run(main: object) -> object:
    """``asyncio.run`` on uvloop when it is installed (it is, with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(main)  # type: ignore[arg-type]
    return uvloop.run(main)  # type: ignore[arg-type]


def subscriber_process(
    pipe: Connection,
    url: str,
    protocol: str,
    document: str,
    watches: list[Watch],
    core: int | None,
) -> None:
    pin(core)
    pipe.send(run(_hold(pipe, url, protocol, document, watches)))


async def _hold(
    pipe: Connection, url: str, protocol: str, document: str, watches: list[Watch]
) -> Received:
    received = Received()
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    ids: list[list[str]] = [[] for _ in watches]
    for batch in range(0, len(watches), OPENING_AT_ONCE):
        opened = await asyncio.gather(
            *(
                _subscribe(url, protocol, document, w)
                for w in watches[batch : batch + OPENING_AT_ONCE]
            )
        )
        for i, ws in enumerate(opened, start=batch):
            sockets.append(ws)
            readers.append(asyncio.create_task(_read(ws, protocol, watches[i], ids[i], received)))
    received.opened = len(sockets)
    pipe.send(("ready", received.opened))
    await asyncio.to_thread(pipe.recv)  # "stop"
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    received.counts = [(len(seen), len(set(seen))) for seen in ids]
    return received


async def _subscribe(url: str, protocol: str, document: str, watch: Watch) -> ClientConnection:
    # Like a browser: offers permessage-deflate, answers the server's protocol pings.
    ws = await connect(
        url, subprotocols=[Subprotocol(protocol)], ping_interval=None, open_timeout=120
    )
    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {watch.token}"}}
    await ws.send(json.dumps(init))
    ack = json.loads(await ws.recv())
    if ack["type"] != "connection_ack":
        raise SystemExit(f"connection_init answered {ack}")
    start = "subscribe" if protocol == TRANSPORT_WS else "start"
    payload = {"query": DOCUMENTS[document], "variables": {"k": watch.key_ids}}
    await ws.send(json.dumps({"id": "1", "type": start, "payload": payload}))
    return ws


async def _keepalive(ws: ClientConnection) -> None:
    """graphql-transport-ws pings as the dashboard's client sends them (random phase)."""
    await asyncio.sleep(random.uniform(0, KEEPALIVE_SECONDS))
    while True:
        await ws.send('{"type":"ping"}')
        await asyncio.sleep(KEEPALIVE_SECONDS)


async def _read(
    ws: ClientConnection, protocol: str, watch: Watch, ids: list[str], into: Received
) -> None:
    data = "next" if protocol == TRANSPORT_WS else "data"
    latencies = into.monitor_latencies if watch.keys is None else into.tab_latencies
    pinging = asyncio.create_task(_keepalive(ws)) if protocol == TRANSPORT_WS else None
    try:
        async for raw in ws:
            now = time.time()
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "ping":
                await ws.send('{"type":"pong"}')
            elif kind == "pong":
                into.pongs += 1
            elif kind == data:
                event = message["payload"]["data"]["keyActivity"]
                at = datetime.fromisoformat(event["occurredAt"]).timestamp()
                latencies.append((now - at) * 1000)
                ids.append(event["id"])
                if watch.keys is not None and event["key"] not in watch.keys:
                    into.foreign += 1
    except ConnectionClosed as closed:
        into.closed[closed.rcvd.code if closed.rcvd is not None else 1006] += 1
    finally:
        if pinging is not None:
            pinging.cancel()


def gateway_process(
    pipe: Connection,
    base: str,
    verifier: str,
    keys: list[tuple[str, str]],
    rate: float,
    seconds: float,
    core: int | None,
) -> None:
    pin(core)
    pipe.send(run(_gateway(base, verifier, keys, rate, seconds)))


async def _gateway(
    base: str, verifier: str, keys: list[tuple[str, str]], rate: float, seconds: float
) -> Gateway:
    """``rate`` verifications a second of random keys for ``seconds``."""
    answered: Counter[str] = Counter()
    allowed = failed = 0
    round_trips: list[float] = []
    # Enough connections that a slow commit never holds the schedule back; an idle one is
    # dropped before uvicorn's 5 s keep-alive timeout can close it under a request.
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128, keepalive_expiry=2.0)
    last_answer = 0.0
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        headers = {"Authorization": f"Bearer {verifier}"}

        async def one(key: str, secret: str) -> None:
            nonlocal allowed, failed, last_answer
            ts = str(int(time.time()))
            payload = signing_payload("GET", PATH, QUERY, EMPTY_SHA512, ts)
            request = {
                "key": key,
                "signature": hmac_sha512_hex(secret, payload),
                "timestamp": ts,
                "method": "GET",
                "path": PATH,
                "query": QUERY,
                "bodySha512": EMPTY_SHA512,
                "clientIp": "203.0.113.7",
                "requiredScope": "SPOT_READ",
            }
            t0 = time.perf_counter()
            try:
                response = await client.post(
                    "/graphql", json={"query": VERIFY, "variables": {"i": request}}, headers=headers
                )
                decision = response.json()["data"]["verifyApiRequest"]
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                failed += 1
                if failed == 1:
                    since = time.perf_counter() - start
                    print(f"gateway: first failure after {since:.1f} s: {exc!r}", flush=True)
                return
            last_answer = time.perf_counter()
            round_trips.append((last_answer - t0) * 1000)
            answered[key] += 1
            allowed += bool(decision["allowed"])

        rng = random.Random(1)
        total = int(rate * seconds)
        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter()
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(*rng.choice(keys))))
        await asyncio.gather(*tasks)
    return Gateway(total, answered, allowed, failed, last_answer - start, round_trips)
