"""What a login costs, and the security-event row's share of it.

    python -m bench.login_cost [--logins 40] [--inserts 500] [--database-url URL]
                               [--cheap-hash] [--logins-only]

Logs one account in ``--logins`` times through HTTP (the app in process, over ASGI)
and reports the time per login. Argon2 at production cost dominates a login, so
``--cheap-hash`` (time cost 1, 1 MiB) shows what remains: the queries, among them the
session row and the ``LOGIN_SUCCEEDED`` event written in one transaction. Then it times
``--inserts`` security-event inserts alone, bare and each in its own transaction.
``--logins-only`` skips that part (to measure a checkout that has no security log).
SQLite in a temporary folder unless ``--database-url`` names an empty database.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from gql_keys.app import create_app, runtime_of
from gql_keys.db import migrate
from gql_keys.runtime import Runtime
from gql_keys.settings import Settings

REGISTER = "mutation ($i: RegisterInput!) { register(input: $i) { userErrors { code } } }"
LOGIN = "mutation ($i: LoginInput!) { login(input: $i) { token userErrors { code } } }"
PASSWORD = "correct horse battery staple 42"
WARM_UP = 3


def summary(label: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return (
        f"{label}: median {statistics.median(ms):.2f} ms, p90 {p90:.2f} ms, "
        f"min {ms[0]:.2f} ms (n={len(ms)})"
    )


async def login_times(client: httpx.AsyncClient, count: int) -> list[float]:
    email = f"bench-{secrets.token_hex(4)}@example.com"
    variables: dict[str, Any] = {"i": {"email": email, "password": PASSWORD}}
    body = (await client.post("/graphql", json={"query": REGISTER, "variables": variables})).json()
    assert body["data"]["register"]["userErrors"] == [], body
    times: list[float] = []
    for _ in range(count + WARM_UP):
        start = time.perf_counter()
        response = await client.post(
            "/graphql",
            json={"query": LOGIN, "variables": variables},
            headers={"User-Agent": "bench.login_cost"},
        )
        times.append(time.perf_counter() - start)
        assert response.json()["data"]["login"]["token"], response.text
    return times[WARM_UP:]


async def insert_times(rt: Runtime, count: int) -> tuple[list[float], list[float]]:
    from gql_keys.db import transaction
    from gql_keys.models import User
    from gql_keys.services.security_events import ClientInfo, SecurityEventKind, record

    user = await User.get(email__startswith="bench-")
    client = ClientInfo.of("203.0.113.9", "bench.login_cost")
    bare: list[float] = []
    in_transaction: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        await record(rt, user.id, SecurityEventKind.LOGIN_SUCCEEDED, client)
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        async with transaction(rt.settings):
            await record(rt, user.id, SecurityEventKind.LOGIN_SUCCEEDED, client)
        in_transaction.append(time.perf_counter() - start)
    return bare, in_transaction


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    hash_costs: dict[str, Any] = (
        {"argon2_time_cost": 1, "argon2_memory_cost": 1024} if args.cheap_hash else {}
    )
    settings = Settings(
        data_dir=data_dir,
        database_url=args.database_url or f"sqlite://{data_dir / 'bench.sqlite3'}",
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        log_level="WARNING",
        **hash_costs,
    )
    await migrate(settings)
    app = create_app(settings)
    backend = settings.effective_database_url.split(":", 1)[0]
    cost = "cheap" if args.cheap_hash else "production"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            logins = await login_times(client, args.logins)
        print(summary(f"login, {cost} argon2, {backend}", logins))
        if not args.logins_only:
            bare, wrapped = await insert_times(runtime_of(app), args.inserts)
            print(summary(f"security-event insert alone, {backend}", bare))
            print(summary(f"security-event insert in its own transaction, {backend}", wrapped))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--inserts", type=int, default=500)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--cheap-hash", action="store_true")
    parser.add_argument("--logins-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gql-keys-bench-") as folder:
        asyncio.run(run(args, Path(folder)))


if __name__ == "__main__":
    main()
