"""``/authz`` on two real ``gql-keys serve`` workers sharing PostgreSQL and Redis: one
replay cache, one rate limit, one key invalidation, and a row for every answer."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from harness.authz import PartnerRequest, check
from harness.databases import _asyncpg_dsn
from tests.scaleout.cluster import Cluster, Key, delete_key, new_key

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def request(key: Key, method: str = "GET", path: str = "/api/v4/spot/orders") -> PartnerRequest:
    return PartnerRequest(
        key=key.key, secret=key.secret, timestamp=f"{time.time():.6f}", method=method, path=path
    )


async def answer(client: httpx.AsyncClient, cluster: Cluster, partner: PartnerRequest) -> str:
    response = await check(client, "nginx", partner, cluster.verifier_token)
    code: str = response.headers.get("x-verification-code", f"HTTP_{response.status_code}")
    return code


async def test_replay_and_delete_cross_workers(cluster: Cluster) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        key = await new_key(client_a)
        cancel = request(key, "DELETE", "/api/v4/spot/orders/1")
        assert await answer(client_a, cluster, cancel) == "VALID"
        assert await answer(client_b, cluster, cancel) == "REPLAYED"
        assert await answer(client_b, cluster, request(key)) == "VALID"  # cached on b now
        await delete_key(client_a, key)
        assert await answer(client_b, cluster, request(key)) == "KEY_DELETED"


async def test_one_rate_limit_and_a_row_per_answer_across_workers(cluster: Cluster) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        key = await new_key(client_a, rateLimit={"requests": 10, "perSeconds": 86400})
        codes = await asyncio.gather(
            *(
                answer(client, cluster, request(key, path=f"/api/v4/spot/orders/{i}"))
                for i, client in enumerate([client_a, client_b] * 8)
            )
        )
    assert codes.count("VALID") == 10, codes
    assert codes.count("RATE_LIMITED") == 6, codes
    connection = await asyncpg.connect(_asyncpg_dsn(cluster.database_url))
    try:
        logged = await connection.fetch("SELECT code FROM usage_logs WHERE key = $1", key.key)
    finally:
        await connection.close()
    assert sorted(row["code"] for row in logged) == sorted(codes)
