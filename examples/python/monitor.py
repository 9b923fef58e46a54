"""Watch key activity live: a monitor service token subscribes to ``keyActivity``.

    python monitor.py http://127.0.0.1:8000 "$MONITOR_TOKEN" [--count N] [--timeout S]

Speaks ``graphql-transport-ws`` with the ``websockets`` package and prints one JSON line
per event. "listening" goes to standard error once the subscription is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from websockets.asyncio.client import connect

SUBSCRIPTION = """
subscription Activity($kinds: [KeyActivityKind!]) {
  keyActivity(kinds: $kinds) {
    id kind occurredAt key code clientIp method path
    apiKey { id label }
  }
}
"""


async def watch(base_url: str, token: str, count: int | None, kinds: list[str] | None) -> None:
    url = base_url.replace("http", "ws", 1).rstrip("/") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        # The token goes in connection_init, not in a header: browsers cannot set one.
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        ack = json.loads(await ws.recv())
        if ack["type"] != "connection_ack":
            raise SystemExit(f"not accepted: {ack}")
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIPTION, "variables": {"kinds": kinds}},
                }
            )
        )
        print("listening", file=sys.stderr, flush=True)
        seen = 0
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                if message["payload"].get("errors"):
                    raise SystemExit(f"subscription error: {message['payload']['errors']}")
                print(json.dumps(message["payload"]["data"]["keyActivity"]), flush=True)
                seen += 1
                if count is not None and seen >= count:
                    return
            elif message["type"] in ("error", "complete"):
                raise SystemExit(f"subscription ended: {message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:8000")
    parser.add_argument("token", help="a service token made with --role monitor")
    parser.add_argument("--count", type=int, help="stop after this many events")
    parser.add_argument("--timeout", type=float, help="give up after this many seconds")
    parser.add_argument("--kind", action="append", help="only this kind (repeatable)")
    args = parser.parse_args()
    try:
        asyncio.run(
            asyncio.wait_for(watch(args.base_url, args.token, args.count, args.kind), args.timeout)
        )
    except TimeoutError:
        raise SystemExit(f"no more events within {args.timeout} s") from None
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
