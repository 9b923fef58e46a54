"""Sub-accounts: each mutation's rules, their keys, and the lock as partners see it.

Everything goes through the public API (GraphQL and ``/authz``) on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gql_keys.global_ids import encode_global_id
from gql_keys.runtime import Runtime
from gql_keys.settings import Settings
from harness.accounts import next_code, signed_up_user
from harness.authz import PartnerRequest, check
from harness.graphql import gql
from harness.keys import verifier_token
from tests.api.key_changes_support import confirm, roll, update
from tests.api.sub_accounts_support import (
    CONFIRM,
    CREATE_SUB,
    DELETE_SUB,
    LIST_SUBS,
    MY_KEYS,
    SUB_KEYS,
    UNLOCK_SUB,
    lock,
    new_sub_account,
    new_sub_key,
    run,
    unlock,
)
from tests.api.test_keys import DELETE, create, new_key, verify

SECURITY_LOG = "{ securityEvents { nodes { kind subAccount { id label } apiKey { id } } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(max_sub_accounts=3, max_live_keys=2)


async def authz(
    client: httpx.AsyncClient, rt: Runtime, key: dict[str, Any], secret: str
) -> httpx.Response:
    request = PartnerRequest(key=key["key"], secret=secret, timestamp=f"{rt.clock.time():.4f}")
    request.headers["X-Real-IP"] = "203.0.113.7"
    return await check(client, "nginx", request, await verifier_token(f"gw-{rt.clock.time()}"))


async def test_creating_a_sub_account_needs_two_factor_a_label_and_stays_under_the_limit(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    no_2fa = await signed_up_user(client, rt, two_factor=False)
    refused = await run(client, no_2fa, CREATE_SUB, input={"label": "desk"})
    assert [e["code"] for e in refused["userErrors"]] == ["TWO_FACTOR_NOT_ENABLED"]

    master = await signed_up_user(client, rt)
    blank = await run(client, master, CREATE_SUB, input={"label": "  "})
    assert [(e["code"], e["field"]) for e in blank["userErrors"]] == [
        ("INVALID_INPUT", ["input", "label"])
    ]
    created = [await new_sub_account(client, master, f"desk {i}") for i in range(3)]
    assert [s["label"] for s in created] == ["desk 0", "desk 1", "desk 2"]
    assert not any(s["locked"] for s in created)
    over = await run(client, master, CREATE_SUB, input={"label": "desk 3"})
    assert [e["code"] for e in over["userErrors"]] == ["LIMIT_REACHED"]

    # A deleted one no longer counts, and the list is a connection, newest first.
    gone = await run(client, master, DELETE_SUB, input={"id": created[0]["id"]})
    assert gone == {"deletedSubAccountId": created[0]["id"], "userErrors": []}
    await new_sub_account(client, master, "desk 3")
    first = await run(client, master, LIST_SUBS, first=2)
    assert first["totalCount"] == 3
    assert [n["label"] for n in first["nodes"]] == ["desk 3", "desk 2"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await run(client, master, LIST_SUBS, first=2, after=first["pageInfo"]["endCursor"])
    assert [n["label"] for n in rest["nodes"]] == ["desk 1"]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_a_sub_accounts_keys_are_its_own_and_the_masters_stay_the_masters(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    master = await signed_up_user(client, rt)
    sub = await new_sub_account(client, master)
    own = (await new_key(client, rt, master, label="master bot"))["apiKey"]
    made = await new_sub_key(client, rt, master, sub["id"], label="desk bot")
    assert made["secret"]
    sub_key = made["apiKey"]

    mine = await run(client, master, MY_KEYS)
    assert mine == {"totalCount": 1, "nodes": [{"id": own["id"], "subAccount": None}]}
    listed = await run(client, master, SUB_KEYS, id=sub["id"])
    assert listed["apiKeys"]["totalCount"] == 1
    assert [(k["label"], k["subAccount"]) for k in listed["apiKeys"]["nodes"]] == [
        ("desk bot", {"id": sub["id"]})
    ]

    # Each account has its own live-key limit (2 here): the master's own key does not
    # count toward the sub-account's, and the other way round.
    await new_sub_key(client, rt, master, sub["id"], label="desk bot 2")
    full = await create(client, master, subAccountId=sub["id"])
    assert [e["code"] for e in full["userErrors"]] == ["LIMIT_REACHED"]
    await new_key(client, rt, master, label="master bot 2")

    # The master deletes a sub-account key like its own.
    body = await gql(client, DELETE, {"input": {"id": sub_key["id"]}}, token=master.token)
    assert body["data"]["deleteApiKey"]["userErrors"] == []
    again = await run(client, master, SUB_KEYS, id=sub["id"], includeDeleted=True)
    assert again["apiKeys"]["totalCount"] == 2
    assert (await run(client, master, SUB_KEYS, id=sub["id"]))["apiKeys"]["totalCount"] == 1


async def test_a_sub_account_key_answers_with_the_sub_account_and_its_master(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    master = await signed_up_user(client, rt)
    sub = await new_sub_account(client, master)
    made = await new_sub_key(client, rt, master, sub["id"])
    response = await authz(client, rt, made["apiKey"], made["secret"])
    assert response.status_code == 200, response.text
    assert response.headers["x-api-key-id"] == made["apiKey"]["id"]
    assert response.headers["x-account-id"] == sub["id"]
    assert response.headers["x-master-account-id"] == encode_global_id("User", master.user_id)

    own = await new_key(client, rt, master)
    mine = await authz(client, rt, own["apiKey"], own["secret"])
    assert mine.headers["x-account-id"] == encode_global_id("User", master.user_id)
    assert "x-master-account-id" not in mine.headers


async def test_a_locked_sub_account_is_denied_at_once_until_the_master_confirms_the_unlock(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    master = await signed_up_user(client, rt)
    sub = await new_sub_account(client, master)
    made = await new_sub_key(client, rt, master, sub["id"])
    own = await new_key(client, rt, master)
    assert (await authz(client, rt, made["apiKey"], made["secret"])).status_code == 200

    locked = await lock(client, master, sub["id"])
    assert locked["userErrors"] == []
    assert locked["subAccount"]["locked"] is True
    denied = await authz(client, rt, made["apiKey"], made["secret"])
    assert denied.status_code == 403
    assert denied.json()["label"] == "ACCOUNT_LOCKED"
    assert denied.headers["x-error-label"] == "ACCOUNT_LOCKED"
    assert denied.headers["x-verification-code"] == "ACCOUNT_LOCKED"
    assert "x-ratelimit-limit" not in denied.headers  # no quota spent while locked
    assert (await authz(client, rt, own["apiKey"], own["secret"])).status_code == 200
    # Locking twice changes nothing.
    assert (await lock(client, master, sub["id"]))["subAccount"]["locked"] is True

    # A wrong code unlocks nothing.
    asked = await run(client, master, UNLOCK_SUB, input={"id": sub["id"]})
    wrong = await run(
        client, master, CONFIRM, input={"challengeId": asked["challenge"]["id"], "code": "000000"}
    )
    assert [e["code"] for e in wrong["userErrors"]] == ["INVALID_TWO_FACTOR_CODE"]
    assert (await authz(client, rt, made["apiKey"], made["secret"])).status_code == 403

    unlocked = await unlock(client, rt, master, sub["id"])
    assert unlocked["userErrors"] == [], unlocked
    assert unlocked["apiKey"] is None
    assert unlocked["secret"] is None
    assert unlocked["subAccount"] == {**sub, "locked": False}
    assert (await authz(client, rt, made["apiKey"], made["secret"])).status_code == 200
    not_locked = await run(client, master, UNLOCK_SUB, input={"id": sub["id"]})
    assert [e["code"] for e in not_locked["userErrors"]] == ["INVALID_INPUT"]

    log = await run(client, master, SECURITY_LOG)
    kinds = [(e["kind"], e["subAccount"]) for e in log["nodes"] if e["kind"].startswith("SUB_")]
    named = {"id": sub["id"], "label": sub["label"]}
    assert kinds == [
        ("SUB_ACCOUNT_UNLOCKED", named),
        ("SUB_ACCOUNT_LOCKED", named),
        ("SUB_ACCOUNT_CREATED", named),
    ]
    key_created = [e for e in log["nodes"] if e["apiKey"] == {"id": made["apiKey"]["id"]}]
    assert [e["kind"] for e in key_created] == ["KEY_CREATED"]
    assert key_created[0]["subAccount"] == named


async def test_an_unlock_challenge_confirms_only_the_lock_it_was_made_for(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    master = await signed_up_user(client, rt)
    sub = await new_sub_account(client, master)
    await lock(client, master, sub["id"])
    stale = await run(client, master, UNLOCK_SUB, input={"id": sub["id"]})
    assert (await unlock(client, rt, master, sub["id"]))["userErrors"] == []
    await lock(client, master, sub["id"])
    assert master.seed is not None
    late = await run(
        client,
        master,
        CONFIRM,
        input={"challengeId": stale["challenge"]["id"], "code": next_code(master.seed, rt)},
    )
    assert [e["code"] for e in late["userErrors"]] == ["CHALLENGE_EXPIRED"]
    listed = await run(client, master, LIST_SUBS)
    assert listed["nodes"][0]["locked"] is True


async def test_deleting_a_sub_account_kills_its_keys_at_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    master = await signed_up_user(client, rt)
    sub = await new_sub_account(client, master)
    made = await new_sub_key(client, rt, master, sub["id"])
    pending = await create(client, master, subAccountId=sub["id"])
    assert (await authz(client, rt, made["apiKey"], made["secret"])).status_code == 200

    deleted = await run(client, master, DELETE_SUB, input={"id": sub["id"]})
    assert deleted == {"deletedSubAccountId": sub["id"], "userErrors": []}
    response = await authz(client, rt, made["apiKey"], made["secret"])
    assert (response.status_code, response.headers["x-verification-code"]) == (401, "KEY_DELETED")

    # Gone everywhere: list, node, new keys, its pending key's confirmation, a second delete.
    assert (await run(client, master, LIST_SUBS))["totalCount"] == 0
    assert await run(client, master, SUB_KEYS, id=sub["id"]) is None
    refused = await create(client, master, subAccountId=sub["id"])
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("NOT_FOUND", ["input", "subAccountId"])
    ]
    assert master.seed is not None
    late = await verify(client, master, pending["challenge"]["id"], next_code(master.seed, rt))
    assert [e["code"] for e in late["userErrors"]] == ["NOT_FOUND"]
    twice = await run(client, master, DELETE_SUB, input={"id": sub["id"]})
    assert [e["code"] for e in twice["userErrors"]] == ["NOT_FOUND"]

    log = await run(client, master, SECURITY_LOG)
    assert [e["kind"] for e in log["nodes"][:2]] == ["KEY_DELETED", "SUB_ACCOUNT_DELETED"]
    # The deleted key's history still says whose it was.
    key = await run(
        client,
        master,
        "query ($id: ID!) { apiKey(id: $id) { status subAccount { id deletedAt } } }",
        id=made["apiKey"]["id"],
    )
    assert key["status"] == "DELETED"
    assert key["subAccount"]["id"] == sub["id"]
    assert key["subAccount"]["deletedAt"]


async def test_the_master_changes_and_rolls_a_sub_account_key_with_its_own_code(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    master = await signed_up_user(client, rt)
    stranger = await signed_up_user(client, rt)
    sub = await new_sub_account(client, master)
    made = await new_sub_key(client, rt, master, sub["id"], label="desk bot")
    key_id = made["apiKey"]["id"]

    renamed = await update(client, master, key_id, label="desk bot v2")
    assert renamed["apiKey"]["label"] == "desk bot v2"
    rolled = await roll(client, master, key_id, overlapSeconds=0)
    assert rolled["challenge"]["purpose"] == "ROLL_KEY"
    assert master.seed is not None
    confirmed = await confirm(client, master, rolled["challenge"]["id"], next_code(master.seed, rt))
    assert confirmed["userErrors"] == [], confirmed
    fresh = await authz(client, rt, made["apiKey"], confirmed["secret"])
    assert (fresh.status_code, fresh.headers["x-account-id"]) == (200, sub["id"])
    stale = await authz(client, rt, made["apiKey"], made["secret"])
    assert stale.headers["x-verification-code"] == "INVALID_SIGNATURE"

    # Another master reaches none of it.
    for payload in (
        await update(client, stranger, key_id, label="mine now"),
        await roll(client, stranger, key_id),
    ):
        assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
