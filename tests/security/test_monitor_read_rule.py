"""One read rule for keys: a monitor read every key's label, allowlist and scopes
through ``usageLogs.nodes.apiKey`` while ``apiKey(id)`` and ``node`` answered null to
it. Monitors may now read any key, read-only, the same way through all three; anyone
else still reads only their own."""

from __future__ import annotations

from typing import Any

import httpx

from gql_keys.global_ids import encode_global_id
from gql_keys.runtime import Runtime
from gql_keys.services.sessions import start_session
from harness.accounts import LOCAL_CLIENT
from harness.graphql import error_codes, gql
from harness.keys import create_active_key, create_user, monitor_token
from tests.api.usage_support import entry, record

FIELDS = "id key label scopes ipAllowlist"
THROUGH_LOGS = f"{{ usageLogs(first: 10) {{ nodes {{ apiKey {{ {FIELDS} }} }} }} }}"
BY_ID = f"query ($id: ID!) {{ apiKey(id: $id) {{ {FIELDS} }} }}"
BY_NODE = f"query ($id: ID!) {{ node(id: $id) {{ ... on ApiKey {{ {FIELDS} }} }} }}"
DELETE = """
mutation ($input: DeleteApiKeyInput!) {
  deleteApiKey(input: $input) { deletedApiKeyId userErrors { code } }
}
"""


async def reads(client: httpx.AsyncClient, token: str, key_id: str) -> list[Any]:
    logs = await gql(client, THROUGH_LOGS, token=token)
    nodes = logs["data"]["usageLogs"]["nodes"] if logs["data"] else []
    by_id = await gql(client, BY_ID, {"id": key_id}, token=token)
    by_node = await gql(client, BY_NODE, {"id": key_id}, token=token)
    return [
        nodes[0]["apiKey"] if nodes else None,
        by_id["data"]["apiKey"],
        by_node["data"]["node"] or None,
    ]


async def test_a_monitor_reads_any_key_the_same_way_through_every_path(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    owner = await create_user()
    key, _ = await create_active_key(rt, owner.id, ip_allowlist=["198.51.100.0/24"])
    await record(rt, entry(key, rt.clock.now()))
    key_id = encode_global_id("ApiKey", key.id)
    monitor = await monitor_token()
    seen = await reads(client, monitor, key_id)
    expected = {
        "id": key_id,
        "key": key.key,
        "label": key.label,
        "scopes": key.scopes,
        "ipAllowlist": ["198.51.100.0/24"],
    }
    assert seen == [expected, expected, expected]
    # Read-only: a monitor changes nothing.
    body = await gql(client, DELETE, {"input": {"id": key_id}}, token=monitor)
    assert error_codes(body) == ["FORBIDDEN"]


async def test_another_user_reads_no_foreign_key_through_any_path(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    owner = await create_user()
    key, _ = await create_active_key(rt, owner.id)
    await record(rt, entry(key, rt.clock.now()))
    stranger = await create_user()
    token = await start_session(rt, stranger.id, LOCAL_CLIENT)
    assert await reads(client, token, encode_global_id("ApiKey", key.id)) == [None, None, None]
