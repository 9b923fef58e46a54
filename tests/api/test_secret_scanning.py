"""``POST /secret-scanning/github`` end to end over real HTTP: a live gql-keys (SQLite and
PostgreSQL) fetching its public keys from a stand-in for GitHub's key document (an ECDSA
P-256 key made here, served on loopback), and alerts signed as GitHub signs them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import httpx
import pytest

from gql_keys.runtime import Runtime
from gql_keys.security.keymaterial import new_secret
from gql_keys.services.secret_scanning import MAX_ALERT_BYTES, MAX_ALERT_TOKENS
from harness.accounts import TestUser, next_code, signed_up_user
from harness.graphql import gql
from harness.live_server import LiveServer, settings_for
from harness.secret_scanning import TOKEN_TYPE, GitHubKeys, alert, new_signing_key, sign
from tests.api.key_changes_support import confirm, roll
from tests.api.test_keys import new_key
from tests.conftest import BACKENDS

PATH = "/secret-scanning/github"
KEY_STATE = """
query ($id: ID!) { apiKey(id: $id) { status quarantinedAt quarantineReason canary } }
"""
EVENTS = "{ securityEvents(first: 10) { nodes { kind ip apiKey { id } } } }"


@pytest.fixture(scope="module")
def github() -> Iterator[GitHubKeys]:
    stand_in = GitHubKeys()
    stand_in.add_key("k1")
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest,
    github: GitHubKeys,
    tmp_path_factory: pytest.TempPathFactory,
    master_key: str,
) -> Iterator[LiveServer]:
    database_url: str = request.getfixturevalue(f"{request.param}_database_url")
    settings = settings_for(tmp_path_factory.mktemp("data"), database_url, master_key)
    server = LiveServer(settings.with_overrides(secret_scanning_keys_url=github.url))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def client(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as c:
        yield c


@pytest.fixture
def rt(live: LiveServer) -> Runtime:
    """What the TOTP helpers read: the live server's (movable) clock."""
    return cast(Runtime, SimpleNamespace(clock=live.clock))


@pytest.fixture
async def owner(client: httpx.AsyncClient, rt: Runtime) -> TestUser:
    return await signed_up_user(client, rt)


async def report(
    client: httpx.AsyncClient, github: GitHubKeys, body: bytes, key: str = "k1"
) -> httpx.Response:
    return await client.post(PATH, content=body, headers=github.headers(key, body))


async def state(client: httpx.AsyncClient, user: TestUser, key_id: str) -> dict[str, Any]:
    body = await gql(client, KEY_STATE, {"id": key_id}, token=user.token)
    result: dict[str, Any] = body["data"]["apiKey"]
    return result


async def test_a_leaked_secret_reported_by_github_quarantines_its_key(
    client: httpx.AsyncClient, rt: Runtime, github: GitHubKeys, owner: TestUser
) -> None:
    key = await new_key(client, rt, owner)
    other = await new_key(client, rt, owner)
    unknown = new_secret()  # the right shape, no key's
    tokens = [unknown, key["secret"], "ghp_not_ours_at_all"]
    response = await report(client, github, alert(tokens))
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"token_raw": unknown, "token_type": TOKEN_TYPE, "label": "false_positive"},
        {"token_raw": key["secret"], "token_type": TOKEN_TYPE, "label": "true_positive"},
        {"token_raw": "ghp_not_ours_at_all", "token_type": TOKEN_TYPE, "label": "false_positive"},
    ]
    leaked = await state(client, owner, key["apiKey"]["id"])
    assert (leaked["status"], leaked["quarantineReason"]) == ("QUARANTINED", "LEAK_REPORTED")
    assert leaked["quarantinedAt"] is not None
    assert (await state(client, owner, other["apiKey"]["id"]))["status"] == "ACTIVE"
    events = (await gql(client, EVENTS, token=owner.token))["data"]["securityEvents"]["nodes"]
    assert events[0] == {
        "kind": "KEY_QUARANTINED",
        "ip": "127.0.0.1",
        "apiKey": {"id": key["apiKey"]["id"]},
    }
    # Reported again: still a live key's secret, and nothing happens twice.
    again = await report(client, github, alert([key["secret"]]))
    assert again.json()[0]["label"] == "true_positive"
    events = (await gql(client, EVENTS, token=owner.token))["data"]["securityEvents"]["nodes"]
    assert [e["kind"] for e in events].count("KEY_QUARANTINED") == 1


async def test_a_secret_in_its_roll_overlap_still_matches_and_a_rolled_away_one_does_not(
    client: httpx.AsyncClient, rt: Runtime, github: GitHubKeys, owner: TestUser
) -> None:
    assert owner.seed is not None
    key = await new_key(client, rt, owner)
    key_id, first = key["apiKey"]["id"], key["secret"]
    challenge = (await roll(client, owner, key_id, overlapSeconds=600))["challenge"]
    second = (await confirm(client, owner, challenge["id"], next_code(owner.seed, rt)))["secret"]
    challenge = (await roll(client, owner, key_id, overlapSeconds=0))["challenge"]
    third = (await confirm(client, owner, challenge["id"], next_code(owner.seed, rt)))["secret"]
    # first: rolled away twice; second: rolled away with no overlap; third: in force.
    labels = (await report(client, github, alert([first, second]))).json()
    assert [entry["label"] for entry in labels] == ["false_positive", "false_positive"]
    assert (await state(client, owner, key_id))["status"] == "ACTIVE"

    challenge = (await roll(client, owner, key_id, overlapSeconds=600))["challenge"]
    await confirm(client, owner, challenge["id"], next_code(owner.seed, rt))
    labels = (await report(client, github, alert([third]))).json()  # in its overlap now
    assert labels[0]["label"] == "true_positive"
    assert (await state(client, owner, key_id))["status"] == "QUARANTINED"


async def test_a_canary_secret_reported_trips_the_canary_and_is_not_quarantined(
    client: httpx.AsyncClient, rt: Runtime, github: GitHubKeys, owner: TestUser
) -> None:
    canary = await new_key(client, rt, owner, label="decoy", canary=True)
    response = await report(client, github, alert([canary["secret"]]))
    assert response.json()[0]["label"] == "true_positive"
    assert (await state(client, owner, canary["apiKey"]["id"]))["status"] == "ACTIVE"
    events = (await gql(client, EVENTS, token=owner.token))["data"]["securityEvents"]["nodes"]
    assert events[0]["kind"] == "CANARY_TRIPPED"
    assert events[0]["apiKey"] == {"id": canary["apiKey"]["id"]}


@pytest.mark.parametrize(
    "forgery",
    ["unsigned", "no identifier", "wrong signer", "tampered body", "garbage signature"],
)
async def test_an_alert_not_signed_by_github_is_401_and_changes_nothing(
    client: httpx.AsyncClient, rt: Runtime, github: GitHubKeys, owner: TestUser, forgery: str
) -> None:
    key = await new_key(client, rt, owner)
    body = alert([key["secret"]])
    headers = github.headers("k1", body)
    if forgery == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif forgery == "no identifier":
        del headers["Github-Public-Key-Identifier"]
    elif forgery == "wrong signer":
        headers["Github-Public-Key-Signature"] = sign(new_signing_key(), body)
    elif forgery == "tampered body":
        body = alert([key["secret"], new_secret()])  # signed: the one-token body
    else:
        headers["Github-Public-Key-Signature"] = "not base64 at all!"
    response = await client.post(PATH, content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert key["secret"] not in response.text
    assert (await state(client, owner, key["apiKey"]["id"]))["status"] == "ACTIVE"


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"token": "x"}', b'[{"type": "x"}]', b'[{"token": 5}]', b'["gqks_x"]'],
)
async def test_a_signed_but_malformed_alert_is_400(
    client: httpx.AsyncClient, github: GitHubKeys, body: bytes
) -> None:
    response = await report(client, github, body)
    assert response.status_code == 400, response.text
    assert response.json()["message"]


async def test_an_oversized_alert_is_413_before_its_signature_is_checked(
    client: httpx.AsyncClient, github: GitHubKeys
) -> None:
    huge = alert(["gqks_" + "x" * 1000] * (MAX_ALERT_BYTES // 1000))
    assert len(huge) > MAX_ALERT_BYTES
    unsigned = await client.post(PATH, content=huge)
    assert unsigned.status_code == 413
    too_many = alert([new_secret() for _ in range(MAX_ALERT_TOKENS + 1)])
    assert len(too_many) <= MAX_ALERT_BYTES
    response = await report(client, github, too_many)
    assert response.status_code == 413, response.text


async def test_keys_are_cached_and_an_unknown_identifier_refetches_at_most_once_a_minute(
    client: httpx.AsyncClient, live: LiveServer, github: GitHubKeys
) -> None:
    body = alert([new_secret()])
    live.clock.advance(3601)  # whatever was cached is too old now
    fetched = github.fetches
    assert (await report(client, github, body)).status_code == 200
    assert github.fetches == fetched + 1
    assert (await report(client, github, body)).status_code == 200
    assert github.fetches == fetched + 1  # a known key: from the cache
    live.clock.advance(61)  # a refetch is allowed again
    fetched = github.fetches

    headers = {"Github-Public-Key-Identifier": "never-published", "Content-Type": "text/plain"}
    headers["Github-Public-Key-Signature"] = sign(new_signing_key(), body)
    assert (await client.post(PATH, content=body, headers=headers)).status_code == 401
    assert github.fetches == fetched + 1  # unknown: fetched once
    # GitHub rotates; an alert under the new key within the minute: no second fetch, so
    # the key is not known yet.
    identifier = f"k{len(github.keys) + 1}"
    github.add_key(identifier)
    assert (await report(client, github, body, identifier)).status_code == 401
    assert github.fetches == fetched + 1
    live.clock.advance(61)
    assert (await report(client, github, body, identifier)).status_code == 200
    assert github.fetches == fetched + 2


async def test_an_unreachable_key_url_is_503_never_an_accepted_alert(
    client: httpx.AsyncClient, rt: Runtime, live: LiveServer, github: GitHubKeys, owner: TestUser
) -> None:
    key = await new_key(client, rt, owner)
    body = alert([key["secret"]])
    rotated = f"k{len(github.keys) + 1}"
    github.add_key(rotated)  # GitHub rotated: the server must fetch the document again
    github.stop()
    try:
        live.clock.advance(61)
        response = await report(client, github, body, rotated)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]
        assert (await state(client, owner, key["apiKey"]["id"]))["status"] == "ACTIVE"
    finally:
        github.start()
    live.clock.advance(61)
    response = await report(client, github, body, rotated)
    assert response.status_code == 200
    assert json.loads(response.text)[0]["label"] == "true_positive"


async def test_a_key_stored_before_lookups_existed_is_found_after_a_restart(
    client: httpx.AsyncClient, rt: Runtime, live: LiveServer, github: GitHubKeys, owner: TestUser
) -> None:
    key = await new_key(client, rt, owner)
    live.stop()
    # As migration 0009 leaves an older key: no lookup hash.
    await _forget_lookup(live.settings.effective_database_url, key["apiKey"]["key"])
    live.start()
    response = await report(client, github, alert([key["secret"]]))
    assert response.json()[0]["label"] == "true_positive"


async def _forget_lookup(database_url: str, key: str) -> None:
    """Straight in the database, with the server stopped."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.split("://", 1)[1]) as db:
            changed = db.execute("UPDATE api_keys SET secret_lookup = NULL WHERE key = ?", (key,))
            assert changed.rowcount == 1
        return
    connection = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        done = await connection.execute(
            "UPDATE api_keys SET secret_lookup = NULL WHERE key = $1", key
        )
        assert done == "UPDATE 1"
    finally:
        await connection.close()
