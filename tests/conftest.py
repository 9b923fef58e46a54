"""Fixtures: every API test runs against real SQLite and real PostgreSQL.

PostgreSQL and Redis are found through ``GQL_KEYS_TEST_POSTGRES_URL`` and
``GQL_KEYS_TEST_REDIS_URL``. Without them the tests that need them are skipped and the
run says so; under ``CI=true`` a missing service fails the run instead.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from gql_keys.app import create_app, runtime_of
from gql_keys.clock import Clock
from gql_keys.runtime import Runtime
from gql_keys.settings import Settings
from harness.databases import (
    TABLES,
    create_postgres_database,
    drop_postgres_database,
    migrate_url,
    truncate_all,
)

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("GQL_KEYS_TEST_POSTGRES_URL", "")
REDIS_URL = os.environ.get("GQL_KEYS_TEST_REDIS_URL", "")

BACKENDS = ["sqlite", "postgres"]


def pytest_report_header() -> list[str]:
    return [
        f"postgres: {POSTGRES_URL or 'not configured (postgres tests skipped)'}",
        f"redis: {REDIS_URL or 'not configured (redis tests skipped)'}",
    ]


def require_service(name: str, url: str) -> str:
    if url:
        return url
    variable = f"GQL_KEYS_TEST_{name.upper()}_URL"
    if IN_CI:
        pytest.fail(f"{name} is required under CI=true: set {variable}")
    pytest.skip(f"{name} not configured: set {variable} to run these tests")


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped afterwards."""
    base = require_service("postgres", POSTGRES_URL)
    url = asyncio.run(create_postgres_database(base, f"gql_keys_test_{secrets.token_hex(4)}"))
    asyncio.run(migrate_url(url))
    yield url
    asyncio.run(drop_postgres_database(base, url))


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "gql-keys.sqlite3"
    url = f"sqlite://{path}"
    asyncio.run(migrate_url(url))
    return url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{backend}_database_url")
    return url


@pytest.fixture(scope="session")
def master_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, master_key: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        master_key=master_key,
        argon2_time_cost=1,
        argon2_memory_cost=1024,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[Starlette]:
    application = create_app(settings, clock)
    async with application.router.lifespan_context(application):
        await truncate_all()
        yield application


@pytest.fixture
def rt(app: Starlette) -> Runtime:
    return runtime_of(app)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


__all__ = ["TABLES"]
