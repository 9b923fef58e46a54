"""keyActivity and sub-accounts: the master watches its sub-accounts' keys, and
``subAccountId`` narrows a subscription to one of them; another master's is NOT_FOUND."""

from __future__ import annotations

import httpx
import pytest

from gql_keys.global_ids import encode_global_id
from gql_keys.models import ApiKey
from gql_keys.runtime import Runtime
from gql_keys.services.sessions import start_session
from harness.accounts import LOCAL_CLIENT
from harness.graphql import gql
from harness.keys import (
    VERIFY,
    create_active_key,
    create_sub_account,
    create_user,
    verifier_token,
    verify_input,
)
from tests.ws.support import LEGACY_WS, TRANSPORT_WS, open_socket
from tests.ws.test_activity_ws import wait_for_subscribers

BY_SUB_ACCOUNT = """
subscription ($subAccountId: ID) {
  keyActivity(subAccountId: $subAccountId, kinds: [KEY_USED]) {
    kind key apiKey { id subAccount { id label } }
  }
}
"""


async def use(client: httpx.AsyncClient, rt: Runtime, row: ApiKey, secret: str) -> None:
    body = await gql(
        client,
        VERIFY,
        {"input": verify_input(row.key, secret, now=rt.clock.time())},
        token=await verifier_token(f"gw-{row.id}"),
    )
    assert body["data"]["verifyApiRequest"]["code"] == "VALID", body


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_master_watches_one_sub_account_or_all_of_its_keys(
    server_url: str, client: httpx.AsyncClient, rt: Runtime, protocol: str
) -> None:
    master = await create_user()
    desk = await create_sub_account(rt, master.id, "desk 7")
    own, own_secret = await create_active_key(rt, master.id)
    desk_key, desk_secret = await create_active_key(rt, master.id, sub_account_id=desk.id)
    desk_id = encode_global_id("SubAccount", desk.id)
    token = await start_session(rt, master.id, LOCAL_CLIENT)
    async with open_socket(server_url, protocol) as ws:
        assert (await ws.init(token))["type"] == "connection_ack"
        await ws.subscribe("desk", {"subAccountId": desk_id}, query=BY_SUB_ACCOUNT)
        await ws.subscribe("all", query=BY_SUB_ACCOUNT)
        await wait_for_subscribers(rt, 2)
        await use(client, rt, own, own_secret)
        await use(client, rt, desk_key, desk_secret)
        received = [await ws.receive() for _ in range(3)]
    by_op: dict[str, list[str]] = {}
    for message in received:
        event = message["payload"]["data"]["keyActivity"]
        by_op.setdefault(message["id"], []).append(event["key"])
        if event["key"] == desk_key.key:
            assert event["apiKey"]["subAccount"] == {"id": desk_id, "label": "desk 7"}
    assert by_op == {"all": [own.key, desk_key.key], "desk": [desk_key.key]}


async def test_another_masters_sub_account_cannot_be_watched(server_url: str, rt: Runtime) -> None:
    alice, bob = await create_user(), await create_user()
    desk = await create_sub_account(rt, alice.id)
    token = await start_session(rt, bob.id, LOCAL_CLIENT)
    answers = []
    for sub_id in (desk.id, 987_654):
        async with open_socket(server_url) as ws:
            assert (await ws.init(token))["type"] == "connection_ack"
            variables = {"subAccountId": encode_global_id("SubAccount", sub_id)}
            await ws.subscribe("1", variables, query=BY_SUB_ACCOUNT)
            answers.append(await ws.receive())
    assert answers[0] == answers[1]
    assert answers[0]["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
