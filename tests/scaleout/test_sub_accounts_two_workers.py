"""Sub-accounts on two real workers sharing PostgreSQL and Redis: a lock, an unlock and a
delete made on one worker hold on the other as fast as a key's delete does (before its
cached record could expire), and an account's pool is one pool across keys and workers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.accounts import TestUser, signed_up_user, totp_code
from harness.graphql import gql
from harness.windows import clear_of_window_end
from tests.conftest import POSTGRES_URL, REDIS_URL, require_service
from tests.scaleout.cluster import (
    CONFIRM,
    CREATE,
    Cluster,
    Key,
    holds_before_cache_expiry,
    real_clock,
    signed_input,
    start_cluster,
    stop_cluster,
    verify,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

POOL = 5
POOL_SECONDS = 60

CREATE_SUB = """
mutation ($input: CreateSubAccountInput!) {
  createSubAccount(input: $input) { subAccount { id } userErrors { code } }
}
"""
LOCK_SUB = """
mutation ($input: LockSubAccountInput!) {
  lockSubAccount(input: $input) { subAccount { locked } userErrors { code } }
}
"""
UNLOCK_SUB = """
mutation ($input: UnlockSubAccountInput!) {
  unlockSubAccount(input: $input) { challenge { id } userErrors { code } }
}
"""
DELETE_SUB = """
mutation ($input: DeleteSubAccountInput!) {
  deleteSubAccount(input: $input) { deletedSubAccountId userErrors { code } }
}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    postgres = require_service("postgres", POSTGRES_URL)
    redis = require_service("redis", REDIS_URL)
    tmp = tmp_path_factory.mktemp("cluster")
    started = start_cluster(postgres, redis, tmp, workers=0)
    try:
        for _ in range(2):
            started.add_server(
                tmp,
                GQL_KEYS_ACCOUNT_RATE_LIMIT_REQUESTS=str(POOL),
                GQL_KEYS_ACCOUNT_RATE_LIMIT_PER_SECONDS=str(POOL_SECONDS),
            )
        yield started
    finally:
        stop_cluster(started, postgres)


async def run(client: Any, user: TestUser, query: str, **input: Any) -> dict[str, Any]:
    body = await gql(client, query, {"input": input}, token=user.token)
    (payload,) = body["data"].values()
    assert payload["userErrors"] == [], body
    result: dict[str, Any] = payload
    return result


def code(user: TestUser, step_offset: int) -> str:
    """A code the server has not seen: sign-up used the previous step's."""
    assert user.seed is not None
    return totp_code(user.seed, real_clock(), step_offset=step_offset)


async def key_for(client: Any, user: TestUser, totp: str, **extra: Any) -> Key:
    created = await run(client, user, CREATE, label="desk bot", scopes=["SPOT_WRITE"], **extra)
    confirmed = await run(client, user, CONFIRM, challengeId=created["challenge"]["id"], code=totp)
    return Key(confirmed["apiKey"]["id"], confirmed["apiKey"]["key"], confirmed["secret"], user)


async def test_lock_unlock_and_delete_on_one_worker_hold_on_the_other_at_once(
    cluster: Cluster,
) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        await clear_of_window_end(30, margin=8)  # two codes of consecutive steps ahead
        master = await signed_up_user(client_a, real_clock())
        desk = (await run(client_a, master, CREATE_SUB, label="desk"))["subAccount"]["id"]
        key = await key_for(client_a, master, code(master, 0), subAccountId=desk)

        async def answer_on_b(expected: str, allowed_before: str) -> bool:
            answer = await verify(client_b, cluster.verifier_token, signed_input(key))
            assert answer.get("code") in (expected, allowed_before), answer
            return bool(answer["code"] == expected)

        cached_at = time.monotonic()
        for client in (client_a, client_b):  # both workers cache the key now
            assert (await verify(client, cluster.verifier_token, signed_input(key)))["allowed"]
        assert (await run(client_a, master, LOCK_SUB, id=desk))["subAccount"]["locked"]
        await holds_before_cache_expiry(lambda: answer_on_b("ACCOUNT_LOCKED", "VALID"), cached_at)

        cached_at = time.monotonic()
        assert not (await verify(client_a, cluster.verifier_token, signed_input(key)))["allowed"]
        challenge = (await run(client_a, master, UNLOCK_SUB, id=desk))["challenge"]["id"]
        await run(client_a, master, CONFIRM, challengeId=challenge, code=code(master, 1))
        await holds_before_cache_expiry(lambda: answer_on_b("VALID", "ACCOUNT_LOCKED"), cached_at)

        cached_at = time.monotonic()
        assert (await verify(client_a, cluster.verifier_token, signed_input(key)))["allowed"]
        await run(client_a, master, DELETE_SUB, id=desk)
        await holds_before_cache_expiry(lambda: answer_on_b("KEY_DELETED", "VALID"), cached_at)


async def test_an_accounts_keys_share_one_pool_across_workers(cluster: Cluster) -> None:
    a, b = cluster.servers
    async with a.client() as client_a, b.client() as client_b:
        await clear_of_window_end(30, margin=8)
        master = await signed_up_user(client_a, real_clock())
        keys = [
            await key_for(client_a, master, code(master, 0)),
            await key_for(client_b, master, code(master, 1)),
        ]
        await clear_of_window_end(POOL_SECONDS, margin=10)
        answers = [
            await verify(
                (client_a, client_b)[n % 2], cluster.verifier_token, signed_input(keys[n // 2 % 2])
            )
            for n in range(POOL + 1)
        ]
    assert [x["code"] for x in answers] == ["VALID"] * POOL + ["RATE_LIMITED"]
    assert [x["rateLimit"]["remaining"] for x in answers] == [4, 3, 2, 1, 0, 0]
    assert {x["rateLimit"]["limit"] for x in answers} == {POOL}
