"""The command line never silently uses another database than the server.

Every command that opens the database names it on standard error, refuses one that
``gql-keys migrate`` or ``serve`` never set up, and warns when no ``gql-keys serve`` used
it lately (each serve worker keeps a heartbeat row in its database). Standard output
stays the command's answer: scripts capture the token alone.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.databases import create_postgres_database, drop_postgres_database
from tests.conftest import POSTGRES_URL, require_service
from tests.scaleout.cluster import Server

GQL_KEYS = str(Path(sys.executable).parent / "gql-keys")
MASTER_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
CREATE = ("service-token", "create", "--role", "verifier", "--name")
VERIFY = """mutation { verifyApiRequest(input: {key: "gqk_none", signature: "00", timestamp: "1",
  method: "GET", path: "/api/v4/spot/orders", bodySha512: "", clientIp: "127.0.0.1",
  requiredScope: SPOT_READ}) { code } }"""
NO_SERVER = "no `gql-keys serve` has used this database"


def environment(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GQL_KEYS_")}
    return {**env, "GQL_KEYS_MASTER_KEY": MASTER_KEY, **variables}


def gql_keys(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GQL_KEYS, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def sqlite_file(data_dir: Path) -> Path:
    return data_dir / "gql-keys.sqlite3"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A real ``gql-keys serve`` on its own data folder (it migrates it by itself)."""
    served = Server(environment(GQL_KEYS_DATA_DIR=str(tmp_path / "served")), tmp_path / "s.log")
    served.start()
    yield served
    served.stop()


def test_migrate_then_create_before_any_serve_works_and_says_no_server_used_it(
    tmp_path: Path,
) -> None:
    env = environment(GQL_KEYS_DATA_DIR=str(tmp_path / "fresh"))
    assert gql_keys(env, "migrate").returncode == 0
    created = gql_keys(env, *CREATE, "gateway-1")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("gksvc_")
    assert created.stdout.count("\n") == 1  # the token alone, for $(...)
    notes = created.stderr.splitlines()
    assert notes[0] == f"gql-keys: database sqlite://{sqlite_file(tmp_path / 'fresh')}"
    assert NO_SERVER in notes[1]
    assert "(never)" in notes[1]
    assert "GQL_KEYS_DATA_DIR" in notes[1]


def test_a_command_on_the_servers_database_names_it_and_its_token_works(
    server: Server, tmp_path: Path
) -> None:
    env = environment(GQL_KEYS_DATA_DIR=str(tmp_path / "served"))
    created = gql_keys(env, *CREATE, "gateway-1")
    assert created.returncode == 0, created.stderr
    assert created.stderr == f"gql-keys: database sqlite://{sqlite_file(tmp_path / 'served')}\n"
    answer = httpx.post(
        f"{server.url}/graphql",
        json={"query": VERIFY},
        headers={"Authorization": f"Bearer {created.stdout.strip()}"},
    ).json()
    assert answer == {"data": {"verifyApiRequest": {"code": "KEY_NOT_FOUND"}}}


def test_a_command_on_another_set_up_database_warns_that_no_server_reads_it(
    server: Server, tmp_path: Path
) -> None:
    """The case a new user hit: the default data folder, set up long ago, while the
    server runs on another one."""
    other = environment(GQL_KEYS_DATA_DIR=str(tmp_path / "default"))
    assert gql_keys(other, "migrate").returncode == 0
    created = gql_keys(other, *CREATE, "gateway-1")
    assert created.returncode == 0
    assert str(sqlite_file(tmp_path / "default")) in created.stderr
    assert NO_SERVER in created.stderr
    answer = httpx.post(
        f"{server.url}/graphql",
        json={"query": VERIFY},
        headers={"Authorization": f"Bearer {created.stdout.strip()}"},
    ).json()
    assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_database_file_gql_keys_never_set_up_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "someone-elses.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
    done = gql_keys(environment(GQL_KEYS_DATABASE_URL=f"sqlite://{path}"), *CREATE, "gw")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"gql-keys: the database sqlite://{path} was never set up by gql-keys: use the "
        "server's GQL_KEYS_DATA_DIR or GQL_KEYS_DATABASE_URL, or set it up with "
        "`gql-keys migrate`\n"
    )
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert tables == {"notes"}


def test_a_database_behind_this_version_asks_for_migrate_first(tmp_path: Path) -> None:
    env = environment(GQL_KEYS_DATA_DIR=str(tmp_path / "old"))
    assert gql_keys(env, "migrate").returncode == 0
    with sqlite3.connect(sqlite_file(tmp_path / "old")) as db:
        (latest,) = db.execute("SELECT max(name) FROM tortoise_migrations").fetchone()
        db.execute("DELETE FROM tortoise_migrations WHERE name = ?", (latest,))
    done = gql_keys(env, *CREATE, "gateway-1")
    assert done.returncode == 1
    assert "1 migration(s) behind" in done.stderr
    assert "run `gql-keys migrate` first" in done.stderr


@pytest.mark.postgres
def test_an_empty_postgres_database_is_refused(tmp_path: Path) -> None:
    base = require_service("postgres", POSTGRES_URL)
    url = asyncio.run(create_postgres_database(base, f"gql_keys_cli_{secrets.token_hex(4)}"))
    try:
        done = gql_keys(environment(GQL_KEYS_DATABASE_URL=url), *CREATE, "gateway-1")
        assert done.returncode == 1
        assert "was never set up by gql-keys" in done.stderr
        assert done.stdout == ""
    finally:
        asyncio.run(drop_postgres_database(base, url))
