"""Who sees a sub-account and its traffic: its master all of it, a monitor everything as
before, a partner its own key's account, anyone else nothing (exactly like a missing one)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from gql_keys.global_ids import encode_global_id
from gql_keys.models import ApiKey
from gql_keys.runtime import Runtime
from harness.accounts import TestUser, signed_up_user
from harness.graphql import error_codes, gql
from harness.keys import monitor_token
from tests.api.sub_accounts_support import (
    DELETE_SUB,
    LIST_SUBS,
    LOCK_SUB,
    SUB_KEYS,
    UNLOCK_SUB,
    new_sub_account,
    new_sub_key,
    run,
)
from tests.api.test_keys import create, new_key
from tests.api.test_partner import partner_post

# A SubAccount id that never existed: what another master's sub-account must look like.
MISSING = encode_global_id("SubAccount", 987_654)

LOGS = """
query ($filter: UsageLogFilter) {
  usageLogs(filter: $filter) { totalCount nodes { key code apiKey { id subAccount { id } } } }
}
"""
USAGE = """
query ($id: ID!, $since: DateTime!) {
  node(id: $id) { ... on ApiKey { usage(since: $since, bucket: DAY) { allowed denied } } }
}
"""
CURRENT = """
{ currentApiKey { id subAccount { id label apiKeys { totalCount nodes { id } } } } }
"""


async def as_partner(
    client: httpx.AsyncClient, rt: Runtime, made: dict[str, Any], query: str
) -> dict[str, Any]:
    row = await ApiKey.get(key=made["apiKey"]["key"])
    return await partner_post(
        client, row, made["secret"], query, timestamp=f"{rt.clock.time():.4f}"
    )


async def errors_of(client: httpx.AsyncClient, user: TestUser, sub_id: str) -> list[Any]:
    """What each sub-account mutation and read answers ``user`` about ``sub_id``."""
    answers: list[Any] = []
    for mutation in (LOCK_SUB, UNLOCK_SUB, DELETE_SUB):
        answers.append((await run(client, user, mutation, input={"id": sub_id}))["userErrors"])
    answers.append((await create(client, user, subAccountId=sub_id))["userErrors"])
    answers.append(await run(client, user, SUB_KEYS, id=sub_id))
    logs = await run(client, user, LOGS, filter={"subAccountId": sub_id})
    answers.append(logs["totalCount"])
    return answers


async def test_another_masters_sub_account_is_exactly_like_a_missing_one(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    alice = await signed_up_user(client, rt)
    bob = await signed_up_user(client, rt)
    desk = await new_sub_account(client, alice, "alice desk")
    made = await new_sub_key(client, rt, alice, desk["id"])
    await new_sub_account(client, bob, "bob desk")

    foreign = await errors_of(client, bob, desk["id"])
    assert foreign == await errors_of(client, bob, MISSING)
    assert foreign[0] == [
        {"field": ["input", "id"], "code": "NOT_FOUND", "message": "No such sub-account."}
    ]
    assert foreign[3][0]["code"] == "NOT_FOUND"
    assert foreign[4] is None
    assert foreign[5] == 0
    assert [n["label"] for n in (await run(client, bob, LIST_SUBS))["nodes"]] == ["bob desk"]
    # Bob cannot reach Alice's sub-account key either, nor confirm anything on it.
    assert (
        await run(
            client, bob, "query ($id: ID!) { apiKey(id: $id) { id } }", id=made["apiKey"]["id"]
        )
        is None
    )

    # Nothing Bob tried changed Alice's sub-account.
    mine = await run(client, alice, SUB_KEYS, id=desk["id"])
    assert mine["locked"] is False
    assert mine["deletedAt"] is None
    assert mine["apiKeys"]["totalCount"] == 1


async def test_sub_account_traffic_is_the_masters_to_read_and_filter(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    master = await signed_up_user(client, rt)
    desk = await new_sub_account(client, master)
    own = await new_key(client, rt, master)
    made = await new_sub_key(client, rt, master, desk["id"])
    since = (rt.clock.now() - timedelta(days=1)).isoformat()
    # The partner of the sub-account key reads its key and its account, and no sibling.
    await new_sub_key(client, rt, master, desk["id"], label="sibling")
    current = await as_partner(client, rt, made, CURRENT)
    assert "errors" not in current, current
    seen = current["data"]["currentApiKey"]["subAccount"]
    assert seen["id"] == desk["id"]
    assert seen["apiKeys"] == {"totalCount": 1, "nodes": [{"id": made["apiKey"]["id"]}]}
    await as_partner(client, rt, own, CURRENT)

    everything = await run(client, master, LOGS)
    assert everything["totalCount"] == 2
    filtered = await run(client, master, LOGS, filter={"subAccountId": desk["id"]})
    assert [(n["key"], n["apiKey"]["subAccount"]) for n in filtered["nodes"]] == [
        (made["apiKey"]["key"], {"id": desk["id"]})
    ]
    usage = await run(client, master, USAGE, id=made["apiKey"]["id"], since=since)
    assert usage == {"usage": [{"allowed": 1, "denied": 0}]}

    # A monitor reads every row, filters by sub-account, and sees whose key it was.
    monitor = await monitor_token()
    body = await gql(client, LOGS, {"filter": {"subAccountId": desk["id"]}}, token=monitor)
    assert "errors" not in body, body
    assert body["data"]["usageLogs"]["nodes"] == filtered["nodes"]
    body = await gql(client, SUB_KEYS, {"id": desk["id"]}, token=monitor)
    assert body["data"]["node"]["apiKeys"]["totalCount"] == 2


async def test_partners_and_services_cannot_manage_sub_accounts(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    master = await signed_up_user(client, rt)
    desk = await new_sub_account(client, master)
    made = await new_sub_key(client, rt, master, desk["id"])
    lock_it = (
        f'mutation {{ lockSubAccount(input: {{id: "{desk["id"]}"}}) {{ subAccount {{ id }} }} }}'
    )
    assert error_codes(await as_partner(client, rt, made, lock_it)) == ["FORBIDDEN"]
    body = await gql(client, lock_it, token=await monitor_token())
    assert error_codes(body) == ["FORBIDDEN"]
    assert error_codes(await gql(client, lock_it)) == ["UNAUTHENTICATED"]
    assert (await run(client, master, SUB_KEYS, id=desk["id"]))["locked"] is False
