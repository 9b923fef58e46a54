"""``gql-keys service-token create|list|revoke`` run as a real command."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gql_keys.app import create_app
from gql_keys.principals import ServicePrincipal, ServiceRole
from gql_keys.settings import Settings

GQL_KEYS = str(Path(sys.executable).parent / "gql-keys")
LOGOUT = "mutation { logout { userErrors { code } } }"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite://{tmp_path / 'cli.sqlite3'}"
    run(url, "migrate")
    return url


def run(url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
    env["GQL_KEYS_DATABASE_URL"] = url
    return subprocess.run(
        [GQL_KEYS, *args], env=env, capture_output=True, text=True, check=check, timeout=60
    )


async def call(url: str, tmp_path: Path, token: str) -> tuple[dict[str, object], object]:
    """Run ``viewer`` and ``logout`` with ``token``; return both bodies."""
    from gql_keys.services.auth import authenticate_token

    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        argon2_time_cost=1,
        argon2_memory_cost=1024,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        principal = await authenticate_token(app.state.rt, token)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            headers = {"Authorization": f"Bearer {token}"}
            viewer = await c.post("/graphql", json={"query": "{ viewer { id } }"}, headers=headers)
            logout = await c.post("/graphql", json={"query": LOGOUT}, headers=headers)
    return {"viewer": viewer.json(), "logout": logout.json()}, principal


def test_create_prints_only_the_token(database_url: str) -> None:
    result = run(database_url, "service-token", "create", "--name", "gw-1", "--role", "verifier")
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    token = lines[0]
    assert token.startswith("gksvc_")
    assert len(token) >= len("gksvc_") + 43  # 256 bits in urlsafe base64


def test_list_shows_names_and_roles_but_never_tokens(database_url: str) -> None:
    token = run(database_url, "service-token", "create", "--name", "gw-1", "--role", "verifier")
    run(database_url, "service-token", "create", "--name", "mon-1", "--role", "monitor")
    listing = run(database_url, "service-token", "list").stdout
    assert "gw-1" in listing
    assert "verifier" in listing
    assert "mon-1" in listing
    assert "monitor" in listing
    assert token.stdout.strip() not in listing
    assert "gksvc_" not in listing


def test_duplicate_name_is_refused(database_url: str) -> None:
    run(database_url, "service-token", "create", "--name", "gw-1", "--role", "verifier")
    again = run(
        database_url, "service-token", "create", "--name", "gw-1", "--role", "monitor", check=False
    )
    assert again.returncode != 0
    assert again.stdout == ""


def test_unknown_role_is_refused(database_url: str) -> None:
    result = run(
        database_url, "service-token", "create", "--name", "x", "--role", "admin", check=False
    )
    assert result.returncode != 0
    assert result.stdout == ""


async def test_created_token_authenticates_as_a_service(database_url: str, tmp_path: Path) -> None:
    token = run(
        database_url, "service-token", "create", "--name", "gw-1", "--role", "verifier"
    ).stdout.strip()
    bodies, principal = await call(database_url, tmp_path, token)
    assert isinstance(principal, ServicePrincipal)
    assert principal.role is ServiceRole.VERIFIER
    assert principal.name == "gw-1"
    assert bodies["viewer"] == {"data": {"viewer": None}}
    # Authenticated, but not a user: FORBIDDEN rather than UNAUTHENTICATED.
    logout = bodies["logout"]
    assert isinstance(logout, dict)
    assert [e["extensions"]["code"] for e in logout["errors"]] == ["FORBIDDEN"]


async def test_revoked_token_no_longer_authenticates(database_url: str, tmp_path: Path) -> None:
    token = run(
        database_url, "service-token", "create", "--name", "gw-1", "--role", "verifier"
    ).stdout.strip()
    revoked = run(database_url, "service-token", "revoke", "gw-1")
    assert "gw-1" in revoked.stdout
    assert token not in revoked.stdout
    listing = run(database_url, "service-token", "list").stdout
    assert "revoked" in listing
    bodies, principal = await call(database_url, tmp_path, token)
    assert principal is None
    logout = bodies["logout"]
    assert isinstance(logout, dict)
    assert [e["extensions"]["code"] for e in logout["errors"]] == ["UNAUTHENTICATED"]
    again = run(database_url, "service-token", "revoke", "gw-1", check=False)
    assert again.returncode != 0
