"""usageLogs: newest first, keyset pages, filters, and who may read which rows."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gql_keys.global_ids import encode_global_id
from gql_keys.models import ApiKey
from gql_keys.runtime import Runtime
from gql_keys.services.sessions import start_session
from harness.accounts import LOCAL_CLIENT
from harness.graphql import error_codes, gql
from harness.keys import (
    create_active_key,
    create_user,
    monitor_token,
    sign_request,
    verifier_token,
)
from tests.api.usage_support import count_queries, entry, record

LOGS = """
query ($filter: UsageLogFilter, $first: Int, $after: String) {
  usageLogs(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id key occurredAt allowed code clientIp method path
                          requiredScope apiKey { id key } } }
  }
}
"""

BASE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def logs(
    client: httpx.AsyncClient, token: str | None = None, **variables: object
) -> dict[str, Any]:
    body = await gql(client, LOGS, dict(variables), token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["usageLogs"]
    return result


def ids_of(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


async def user_with_key(rt: Runtime) -> tuple[int, str, ApiKey]:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    token = await start_session(rt, user.id, LOCAL_CLIENT)
    return user.id, token, key


async def test_usage_logs_are_newest_first_with_total_count(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    _, token, key = await user_with_key(rt)
    ids = await record(rt, *(entry(key, BASE + timedelta(minutes=i)) for i in range(5)))
    page = await logs(client, token, first=3)
    assert page["totalCount"] == 5
    assert page["pageInfo"]["hasNextPage"] is True
    expected = [encode_global_id("UsageLog", i) for i in reversed(ids)]
    assert ids_of(page) == expected[:3]
    node = page["edges"][0]["node"]
    assert node["apiKey"] == {"id": encode_global_id("ApiKey", key.id), "key": key.key}
    assert node["code"] == "VALID"
    assert node["requiredScope"] == "SPOT_READ"
    rest = await logs(client, token, first=3, after=page["pageInfo"]["endCursor"])
    assert ids_of(rest) == expected[3:]
    assert rest["pageInfo"] == {"hasNextPage": False, "endCursor": rest["edges"][-1]["cursor"]}


async def test_rows_sharing_a_timestamp_page_by_id_without_gaps(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    _, token, key = await user_with_key(rt)
    ids = await record(rt, *(entry(key, BASE) for _ in range(7)))
    seen: list[str] = []
    after = None
    while True:
        page = await logs(client, token, first=2, after=after)
        seen += ids_of(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [encode_global_id("UsageLog", i) for i in sorted(ids, reverse=True)]


async def test_pages_stay_stable_while_rows_are_inserted(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    _, token, key = await user_with_key(rt)
    now = datetime.fromtimestamp(int(time.time()), UTC)
    await record(rt, *(entry(key, now - timedelta(seconds=100 - i)) for i in range(10)))
    first = await logs(client, token, first=4)
    before = ids_of(first)
    # Newer rows arrive between the two page requests (and during the second one).
    await record(rt, *(entry(key, now + timedelta(seconds=i)) for i in range(5)))
    second = await logs(client, token, first=4, after=first["pageInfo"]["endCursor"])
    third = await logs(client, token, first=4, after=second["pageInfo"]["endCursor"])
    walked = before + ids_of(second) + ids_of(third)
    assert len(walked) == len(set(walked)) == 10
    assert third["pageInfo"]["hasNextPage"] is False
    assert third["totalCount"] == 15


async def test_filters_narrow_rows_and_total_count(client: httpx.AsyncClient, rt: Runtime) -> None:
    user_id, token, key = await user_with_key(rt)
    other_key, _ = await create_active_key(rt, user_id)
    await record(
        rt,
        entry(key, BASE, client_ip="198.51.100.1"),
        entry(key, BASE + timedelta(hours=1), allowed=False, code="INVALID_SIGNATURE"),
        entry(key, BASE + timedelta(hours=2), allowed=False, code="RATE_LIMITED"),
        entry(other_key, BASE + timedelta(hours=3)),
    )
    key_id = encode_global_id("ApiKey", key.id)

    async def count(flt: dict[str, Any]) -> int:
        page = await logs(client, token, filter=flt)
        assert len(page["edges"]) == page["totalCount"]
        total: int = page["totalCount"]
        return total

    assert await count({}) == 4
    assert await count({"keyId": key_id}) == 3
    assert await count({"allowed": False}) == 2
    assert await count({"codes": ["RATE_LIMITED", "VALID"]}) == 3
    assert await count({"codes": ["RATE_LIMITED"], "keyId": key_id}) == 1
    assert await count({"clientIp": "198.51.100.1"}) == 1
    since = (BASE + timedelta(hours=1)).isoformat()
    until = (BASE + timedelta(hours=3)).isoformat()
    assert await count({"since": since}) == 3
    assert await count({"since": since, "until": until}) == 2
    assert await count({"keyId": "not-an-id"}) == 0


async def test_users_see_only_their_own_keys_rows(client: httpx.AsyncClient, rt: Runtime) -> None:
    _, alice, alice_key = await user_with_key(rt)
    _, _, bob_key = await user_with_key(rt)
    await record(
        rt,
        entry(alice_key, BASE),
        entry(bob_key, BASE),
        entry(None, BASE, allowed=False, code="KEY_NOT_FOUND"),
    )
    page = await logs(client, alice)
    assert page["totalCount"] == 1
    assert page["edges"][0]["node"]["key"] == alice_key.key
    bob_id = encode_global_id("ApiKey", bob_key.id)
    foreign = await logs(client, alice, filter={"keyId": bob_id})
    assert foreign["totalCount"] == 0
    assert foreign["edges"] == []


async def test_monitor_sees_every_row_including_unknown_keys(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    _, _, alice_key = await user_with_key(rt)
    _, _, bob_key = await user_with_key(rt)
    await record(
        rt,
        entry(alice_key, BASE),
        entry(bob_key, BASE),
        entry(None, BASE, allowed=False, code="KEY_NOT_FOUND", key_text="nope"),
    )
    page = await logs(client, await monitor_token())
    assert page["totalCount"] == 3
    unknown = [e["node"] for e in page["edges"] if e["node"]["apiKey"] is None]
    assert [n["key"] for n in unknown] == ["nope"]


async def test_api_key_principal_sees_only_its_own_key(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    key, secret = await create_active_key(rt, user.id, scopes=("SPOT_READ",))
    sibling, _ = await create_active_key(rt, user.id)
    await record(rt, entry(key, BASE), entry(sibling, BASE), entry(sibling, BASE))
    body = b'{"query":"{ usageLogs(first: 100) { totalCount nodes { key } } }","variables":{}}'
    headers = sign_request(
        secret, "POST", "/graphql", "", body, str(int(rt.clock.time())), key=key.key
    )
    headers["content-type"] = "application/json"
    response = await client.post("/graphql", content=body, headers=headers)
    data = response.json()
    assert "errors" not in data, data
    keys = {n["key"] for n in data["data"]["usageLogs"]["nodes"]}
    assert keys == {key.key}


async def test_verifier_is_forbidden_and_anonymous_is_unauthenticated(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    body = await gql(client, LOGS, {}, token=await verifier_token())
    assert error_codes(body) == ["FORBIDDEN"]
    body = await gql(client, LOGS, {})
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_forged_cursor_and_bad_page_size_are_input_errors(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    _, token, _ = await user_with_key(rt)
    body = await gql(client, LOGS, {"after": "bm90LWEtY3Vyc29y"}, token=token)
    assert error_codes(body) == ["INVALID_INPUT"]
    body = await gql(client, LOGS, {"first": 101}, token=token)
    assert error_codes(body) == ["INVALID_INPUT"]


async def test_node_loads_own_usage_log_and_hides_others(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    _, alice, alice_key = await user_with_key(rt)
    _, bob, _ = await user_with_key(rt)
    (row_id,) = await record(rt, entry(alice_key, BASE))
    query = "query ($id: ID!) { node(id: $id) { ... on UsageLog { id key } } }"
    global_id = encode_global_id("UsageLog", row_id)
    mine = await gql(client, query, {"id": global_id}, token=alice)
    assert mine["data"]["node"] == {"id": global_id, "key": alice_key.key}
    theirs = await gql(client, query, {"id": global_id}, token=bob)
    assert theirs["data"]["node"] is None


KEYS_BY_FRAGMENT = """
fragment Key on ApiKey { id label }
fragment Row on UsageLog { key apiKey { ...Key } }
query { usageLogs(first: 100) { nodes { ...Row } edges { node { ... on UsageLog { id } } } } }
"""


def loads_keys(statement: str) -> bool:
    """Whether ``statement`` reads whole key rows (not only a user's key ids)."""
    return 'FROM "api_keys"' in statement and '"label"' in statement


async def test_a_page_loads_its_keys_in_one_query_and_none_without_api_key(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user_id, token, key = await user_with_key(rt)
    other, _ = await create_active_key(rt, user_id)
    await record(
        rt, *(entry(k, BASE + timedelta(seconds=i)) for i, k in enumerate([key, other] * 5))
    )
    expected = {
        key.key: {"id": encode_global_id("ApiKey", key.id), "label": key.label},
        other.key: {"id": encode_global_id("ApiKey", other.id), "label": other.label},
    }
    with count_queries() as counter:
        body = await gql(client, KEYS_BY_FRAGMENT, {}, token=token)
    assert "errors" not in body, body
    page = body["data"]["usageLogs"]
    assert [n["apiKey"] for n in page["nodes"]] == [expected[n["key"]] for n in page["nodes"]]
    assert len(page["edges"]) == 10
    assert sum(loads_keys(s) for s in counter.statements) == 1

    with count_queries() as counter:
        body = await gql(client, "{ usageLogs(first: 100) { nodes { key } } }", {}, token=token)
    assert "errors" not in body, body
    assert len(body["data"]["usageLogs"]["nodes"]) == 10
    assert not any(loads_keys(s) for s in counter.statements)
