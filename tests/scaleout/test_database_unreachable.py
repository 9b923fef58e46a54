"""With the database unreachable, requests are refused with a clear 503, never a bare 500."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from gql_keys.app import create_app
from gql_keys.principals import ServiceRole
from gql_keys.services import service_tokens
from gql_keys.settings import Settings
from tests.scaleout.proxy import TcpProxy

pytestmark = pytest.mark.postgres

QUERY = "{ scopeCatalog { scope } }"


@pytest.fixture
async def proxy(postgres_database_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(postgres_database_url)
    p = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await p.start()
    yield p
    await p.stop()


async def test_unreachable_database_answers_503_service_unavailable_then_recovers(
    postgres_database_url: str, proxy: TcpProxy, tmp_path: Path, master_key: str
) -> None:
    parts = urlsplit(postgres_database_url)
    user = parts.netloc.rsplit("@", 1)[0]
    via_proxy = urlunsplit(
        (parts.scheme, f"{user}@127.0.0.1:{proxy.port}", parts.path, parts.query, "")
    )
    settings = Settings(data_dir=tmp_path, database_url=via_proxy, master_key=master_key)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        token = await service_tokens.create(f"gw-{secrets.token_hex(3)}", ServiceRole.VERIFIER)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            headers = {"Authorization": f"Bearer {token}"}
            response = await client.post("/graphql", json={"query": QUERY}, headers=headers)
            assert response.is_success

            await proxy.stop()
            other = {"Authorization": "Bearer gksvc_" + "x" * 43}  # not cached: needs the DB
            response = await client.post("/graphql", json={"query": QUERY}, headers=other)
            assert response.status_code == 503
            assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert response.headers["retry-after"] == "1"
            assert (await client.get("/readyz")).status_code == 503

            await proxy.start()
            assert (await client.get("/readyz")).status_code == 200
            response = await client.post("/graphql", json={"query": QUERY}, headers=other)
            assert response.status_code == 200  # answered again (unknown token: an error body)
            assert "SERVICE_UNAVAILABLE" not in response.text
