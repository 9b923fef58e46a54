"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse
from tortoise.connection import connections

from gql_keys.runtime import Runtime

READY_TIMEOUT_SECONDS = 2.0


async def database_ready() -> bool:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            for connection in connections.all():
                await connection.execute_query("SELECT 1")
    except Exception:
        return False
    return True


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    rt: Runtime = request.app.state.rt
    database = await database_ready()
    broker = await rt.broker.healthy()
    ok = database and broker
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "database": database, "broker": broker},
        status_code=200 if ok else 503,
    )
