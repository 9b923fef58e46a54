"""ApiKey.usage from rollups, and constant SQL query counts for pages (no N+1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gql_keys.global_ids import encode_global_id
from gql_keys.models import UsageLog
from gql_keys.runtime import Runtime
from gql_keys.services.sessions import start_session
from harness.accounts import LOCAL_CLIENT
from harness.graphql import gql
from harness.keys import create_active_key, create_user, monitor_token
from tests.api.usage_support import count_queries, entry, record

USAGE = """
query ($id: ID!, $since: DateTime!, $until: DateTime, $bucket: UsageBucketSize) {
  apiKey(id: $id) {
    lastUsedAt
    usage(since: $since, until: $until, bucket: $bucket) { start allowed denied }
  }
}
"""

BASE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def test_usage_buckets_sum_to_the_logs(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    token = await start_session(rt, user.id, LOCAL_CLIENT)
    moments = [BASE + timedelta(minutes=m) for m in (0, 1, 1, 59, 60, 61, 60 * 25)]
    await record(
        rt,
        *(
            entry(key, at, allowed=i % 3 != 0, code="VALID" if i % 3 else "RATE_LIMITED")
            for i, at in enumerate(moments)
        ),
    )
    key_id = encode_global_id("ApiKey", key.id)
    since = (BASE - timedelta(days=1)).isoformat()

    async def buckets(size: str, **extra: str) -> list[dict[str, Any]]:
        variables = {"id": key_id, "since": since, "bucket": size, **extra}
        body = await gql(client, USAGE, variables, token=token)
        assert "errors" not in body, body
        result: list[dict[str, Any]] = body["data"]["apiKey"]["usage"]
        return result

    allowed = await UsageLog.filter(api_key_id=key.id, allowed=True).count()
    denied = await UsageLog.filter(api_key_id=key.id, allowed=False).count()
    until = (BASE + timedelta(days=2)).isoformat()
    for size, expected_buckets in (("MINUTE", 6), ("HOUR", 3), ("DAY", 2)):
        found = await buckets(size, until=until)
        assert len(found) == expected_buckets, (size, found)
        assert sum(b["allowed"] for b in found) == allowed
        assert sum(b["denied"] for b in found) == denied
        starts = [b["start"] for b in found]
        assert starts == sorted(starts)
    hours = await buckets("HOUR")
    assert hours[0] == {"start": "2026-11-01T12:00:00+00:00", "allowed": 2, "denied": 2}
    # until is exclusive on bucket starts; the bucket holding since is included whole.
    window = await buckets("HOUR", until=(BASE + timedelta(hours=1)).isoformat())
    assert [b["start"] for b in window] == ["2026-11-01T12:00:00+00:00"]
    default = await gql(client, USAGE, {"id": key_id, "since": since}, token=token)
    assert default["data"]["apiKey"]["usage"] == hours


async def test_usage_reads_rollups_not_raw_rows(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    token = await start_session(rt, user.id, LOCAL_CLIENT)
    await record(rt, entry(key, BASE), entry(key, BASE, allowed=False, code="REPLAYED"))
    variables = {"id": encode_global_id("ApiKey", key.id), "since": BASE.isoformat()}
    with count_queries() as counter:
        body = await gql(client, USAGE, variables, token=token)
    assert body["data"]["apiKey"]["usage"][0]["allowed"] == 1
    assert not any("usage_logs" in sql for sql in counter.statements), counter.statements
    assert any("usage_rollups" in sql for sql in counter.statements)


KEYS_PAGE = """
query ($since: DateTime!) {
  apiKeys(first: 100) {
    nodes { id lastUsedAt usage(since: $since, bucket: DAY) { start allowed denied } }
  }
}
"""

LOGS_PAGE = """
{ usageLogs(first: 100) { totalCount nodes { id apiKey { id key lastUsedAt } } } }
"""


async def _queries_for(client: httpx.AsyncClient, query: str, token: str, **vars: str) -> int:
    await gql(client, query, vars, token=token)  # warm any per-process caches first
    with count_queries() as counter:
        body = await gql(client, query, vars, token=token)
    assert "errors" not in body, body
    return len(counter.statements)


async def test_a_page_of_keys_with_usage_costs_constant_queries(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    token = await start_session(rt, user.id, LOCAL_CLIENT)
    since = (BASE - timedelta(days=2)).isoformat()
    key, _ = await create_active_key(rt, user.id)
    await record(rt, entry(key, BASE))
    one = await _queries_for(client, KEYS_PAGE, token, since=since)
    keys = [(await create_active_key(rt, user.id))[0] for _ in range(99)]
    await record(rt, *(entry(k, BASE) for k in keys))
    many = await _queries_for(client, KEYS_PAGE, token, since=since)
    body = await gql(client, KEYS_PAGE, {"since": since}, token=token)
    nodes = body["data"]["apiKeys"]["nodes"]
    assert len(nodes) == 100
    assert all(n["usage"][0]["allowed"] == 1 and n["lastUsedAt"] for n in nodes)
    assert many == one


async def test_a_page_of_logs_with_their_keys_costs_constant_queries(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    token = await monitor_token()
    key, _ = await create_active_key(rt, user.id)
    await record(rt, entry(key, BASE))
    one = await _queries_for(client, LOGS_PAGE, token)
    keys = [(await create_active_key(rt, user.id))[0] for _ in range(20)]
    await record(rt, *(entry(keys[i % 20], BASE + timedelta(seconds=i)) for i in range(120)))
    many = await _queries_for(client, LOGS_PAGE, token)
    body = await gql(client, LOGS_PAGE, {}, token=token)
    nodes = body["data"]["usageLogs"]["nodes"]
    assert len(nodes) == 100
    assert all(n["apiKey"] is not None for n in nodes)
    assert many == one


async def test_usage_window_of_too_many_buckets_is_an_input_error(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    key, _ = await create_active_key(rt, user.id)
    token = await start_session(rt, user.id, LOCAL_CLIENT)
    variables = {
        "id": encode_global_id("ApiKey", key.id),
        "since": "1970-01-01T00:00:00Z",
        "bucket": "MINUTE",
    }
    body = await gql(client, USAGE, variables, token=token)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert body["errors"][0]["extensions"]["field"] == ["since"]
    # A day of minutes is fine.
    variables["since"] = (rt.clock.now() - timedelta(days=1)).isoformat()
    assert "errors" not in await gql(client, USAGE, variables, token=token)
