"""verifyApiRequest: every code, tampering, allowlists, replay, rate limits, logging."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tortoise.connection import connections

from gql_keys.models import ApiKey, UsageLog, UsageRollup
from gql_keys.runtime import Runtime
from harness.graphql import error_codes, gql
from harness.keys import (
    VERIFY,
    create_active_key,
    create_user,
    monitor_token,
    verifier_token,
    verify_input,
)
from harness.windows import start_of_window


async def verify(client: httpx.AsyncClient, token: str, data: dict[str, Any]) -> dict[str, Any]:
    body = await gql(client, VERIFY, {"input": data}, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["verifyApiRequest"]
    return result


@pytest.fixture
async def setup(rt: Runtime) -> tuple[ApiKey, str, str]:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id)
    return row, secret, await verifier_token()


async def test_valid_request_is_allowed_with_key_and_rate_limit(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    result = await verify(client, token, verify_input(row.key, secret, now=rt.clock.time()))
    assert result["allowed"] is True
    assert result["code"] == "VALID"
    assert result["apiKey"]["key"] == row.key
    assert result["rateLimit"]["limit"] == 1000
    assert result["rateLimit"]["remaining"] == 999
    assert result["userErrors"] == []


async def test_decimal_timestamp_as_sent_by_gate_clients_verifies(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    ts = f"{rt.clock.time():.7f}"
    result = await verify(client, token, verify_input(row.key, secret, now=0, timestamp=ts))
    assert result["code"] == "VALID"


async def test_ed25519_key_verifies_base64_signature(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    private = Ed25519PrivateKey.generate()
    row, _ = await create_active_key(rt, user.id, algorithm="ED25519", ed25519_private=private)
    token = await verifier_token()
    data = verify_input(row.key, private, now=rt.clock.time(), method="POST", body=b'{"a":1}')
    assert (await verify(client, token, data))["code"] == "VALID"
    data = verify_input(row.key, private, now=rt.clock.time() + 1, body=b"x")
    data["bodySha512"] = hashlib.sha512(b"y").hexdigest()
    assert (await verify(client, token, data))["code"] == "INVALID_SIGNATURE"


async def test_unknown_key_is_key_not_found_without_api_key(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    _, secret, token = setup
    for key in ("gqk_" + "0" * 32, "nonsense", ""):
        result = await verify(client, token, verify_input(key, secret, now=rt.clock.time()))
        assert (result["allowed"], result["code"], result["apiKey"]) == (
            False,
            "KEY_NOT_FOUND",
            None,
        )


async def test_deleted_key_is_key_deleted_after_invalidation(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    assert (await verify(client, token, verify_input(row.key, secret, now=rt.clock.time())))[
        "code"
    ] == "VALID"
    await ApiKey.filter(id=row.id).update(deleted_at=rt.clock.now())
    await rt.key_cache.invalidate(row.key)
    result = await verify(client, token, verify_input(row.key, secret, now=rt.clock.time() + 1))
    assert (result["allowed"], result["code"]) == (False, "KEY_DELETED")
    assert result["apiKey"]["key"] == row.key


async def test_delete_by_another_worker_is_seen_within_the_cache_ttl(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    await verify(client, token, verify_input(row.key, secret, now=rt.clock.time()))
    await ApiKey.filter(id=row.id).update(deleted_at=rt.clock.now())  # no invalidate
    rt.clock.advance(rt.settings.key_cache_ttl_seconds + 0.1)
    result = await verify(client, token, verify_input(row.key, secret, now=rt.clock.time()))
    assert result["code"] == "KEY_DELETED"


async def test_expired_key_is_key_expired(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await create_user()
    row, secret = await create_active_key(
        rt, user.id, expires_at=rt.clock.now() + timedelta(seconds=30)
    )
    token = await verifier_token()
    assert (await verify(client, token, verify_input(row.key, secret, now=rt.clock.time())))[
        "code"
    ] == "VALID"
    rt.clock.advance(31)
    result = await verify(client, token, verify_input(row.key, secret, now=rt.clock.time()))
    assert result["code"] == "KEY_EXPIRED"


@pytest.mark.parametrize(
    ("offset", "code"),
    [
        (-61, "TIMESTAMP_OUT_OF_WINDOW"),
        (61, "TIMESTAMP_OUT_OF_WINDOW"),
        (-59, "VALID"),
        (59, "VALID"),
    ],
)
async def test_timestamp_window_is_sixty_seconds_either_side(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str], offset: int, code: str
) -> None:
    row, secret, token = setup
    # Just past a whole second, the whole-second timestamp lies `offset` seconds away
    # (not up to one second nearer) whatever the request's own time on the way.
    t = rt.clock.time()
    rt.clock.advance(math.ceil(t) - t + 0.001)
    now = rt.clock.time()
    result = await verify(client, token, verify_input(row.key, secret, now=now + offset))
    assert result["code"] == code


@pytest.mark.parametrize("timestamp", ["", "abc", "nan", "inf", "-5", "1e9", " 1", "9" * 40])
async def test_malformed_timestamp_is_a_denial_not_an_error(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str], timestamp: str
) -> None:
    row, secret, token = setup
    result = await verify(client, token, verify_input(row.key, secret, now=0, timestamp=timestamp))
    assert (result["allowed"], result["code"]) == (False, "TIMESTAMP_OUT_OF_WINDOW")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("method", "POST"),
        ("path", "/api/v4/spot/orderz"),
        ("query", "currency_pair=BTC_USDT&status=closed"),
        ("query", "status=open&currency_pair=BTC_USDT"),
        ("bodySha512", hashlib.sha512(b"{}").hexdigest()),
        ("signature", "0" * 128),
        ("signature", "zz" * 64),
        ("signature", "abc"),
        ("signature", ""),
        ("bodySha512", "not-hex"),
        ("path", "/a\n/b"),
        ("path", "/" + "a" * 9000),
    ],
)
async def test_tampering_with_any_part_is_invalid_signature(
    client: httpx.AsyncClient,
    rt: Runtime,
    setup: tuple[ApiKey, str, str],
    field: str,
    value: str,
) -> None:
    row, secret, token = setup
    data = verify_input(row.key, secret, now=rt.clock.time())
    data[field] = value
    result = await verify(client, token, data)
    assert (result["allowed"], result["code"]) == (False, "INVALID_SIGNATURE")


async def test_tampered_timestamp_inside_window_is_invalid_signature(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    data = verify_input(row.key, secret, now=rt.clock.time())
    data["timestamp"] = str(int(data["timestamp"]) - 1)
    assert (await verify(client, token, data))["code"] == "INVALID_SIGNATURE"


async def test_uppercase_hex_signature_is_accepted(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    data = verify_input(row.key, secret, now=rt.clock.time())
    data["signature"] = data["signature"].upper()
    assert (await verify(client, token, data))["code"] == "VALID"


@pytest.mark.parametrize(
    ("allowlist", "address", "code"),
    [
        (["203.0.113.0/24"], "203.0.113.99", "VALID"),
        (["203.0.113.0/24"], "203.0.114.1", "IP_NOT_ALLOWED"),
        (["198.51.100.7"], "198.51.100.7", "VALID"),
        (["198.51.100.7"], "::ffff:198.51.100.7", "VALID"),
        (["2001:db8::/32"], "2001:db8:1::5", "VALID"),
        (["2001:db8::/32"], "2001:db9::5", "IP_NOT_ALLOWED"),
        (["2001:db8::1"], "2001:0db8:0000::0001", "VALID"),
        (["2001:db8::/32"], "203.0.113.1", "IP_NOT_ALLOWED"),
        (["203.0.113.0/24"], "not-an-ip", "IP_NOT_ALLOWED"),
    ],
)
async def test_allowlist_matches_ipv4_ipv6_and_cidr(
    client: httpx.AsyncClient, rt: Runtime, allowlist: list[str], address: str, code: str
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, ip_allowlist=allowlist)
    token = await verifier_token()
    data = verify_input(row.key, secret, now=rt.clock.time(), client_ip=address)
    assert (await verify(client, token, data))["code"] == code


@pytest.mark.parametrize(
    ("scopes", "required", "code"),
    [
        (["SPOT_WRITE"], "SPOT_READ", "VALID"),
        (["SPOT_READ"], "SPOT_WRITE", "SCOPE_NOT_GRANTED"),
        (["SPOT_WRITE"], "FUTURES_READ", "SCOPE_NOT_GRANTED"),
        (["WALLET_READ"], "WITHDRAW", "SCOPE_NOT_GRANTED"),
    ],
)
async def test_scope_must_be_granted_write_grants_read(
    client: httpx.AsyncClient, rt: Runtime, scopes: list[str], required: str, code: str
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, scopes=scopes)
    token = await verifier_token()
    data = verify_input(row.key, secret, now=rt.clock.time(), required_scope=required)
    assert (await verify(client, token, data))["code"] == code


async def test_post_replayed_within_window_is_replayed_but_get_may_repeat(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    now = rt.clock.time()
    post = verify_input(row.key, secret, now=now, method="POST", body=b'{"amount":"1"}')
    assert (await verify(client, token, post))["code"] == "VALID"
    assert (await verify(client, token, post))["code"] == "REPLAYED"
    respelled = dict(post, signature=post["signature"].upper(), method="post")
    assert (await verify(client, token, respelled))["code"] == "REPLAYED"
    get = verify_input(row.key, secret, now=now)
    assert (await verify(client, token, get))["code"] == "VALID"
    assert (await verify(client, token, get))["code"] == "VALID"


async def test_replay_across_aliases_in_one_document(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    data = verify_input(row.key, secret, now=rt.clock.time(), method="DELETE")
    query = """mutation($i: VerifyApiRequestInput!) {
      a: verifyApiRequest(input: $i) { code } b: verifyApiRequest(input: $i) { code } }"""
    body = await gql(client, query, {"i": data}, token=token)
    codes = sorted([body["data"]["a"]["code"], body["data"]["b"]["code"]])
    assert codes == ["REPLAYED", "VALID"]


async def test_failed_signature_does_not_poison_the_replay_cache(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    data = verify_input(row.key, secret, now=rt.clock.time(), method="POST")
    forged = dict(data, signature="0" * 128)
    assert (await verify(client, token, forged))["code"] == "INVALID_SIGNATURE"
    assert (await verify(client, token, data))["code"] == "VALID"


async def test_rate_limit_denies_over_quota_and_denied_addresses_consume_nothing(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    row, secret = await create_active_key(
        rt, user.id, ip_allowlist=["203.0.113.0/24"], rate_limit=(3, 60)
    )
    token = await verifier_token()
    now = start_of_window(rt, 60)
    for i in range(5):
        outside = verify_input(row.key, secret, now=now + i, client_ip="198.51.100.1")
        assert (await verify(client, token, outside))["code"] == "IP_NOT_ALLOWED"
    remaining = []
    for i in range(3):
        result = await verify(client, token, verify_input(row.key, secret, now=now + 10 + i))
        assert result["code"] == "VALID"
        remaining.append(result["rateLimit"]["remaining"])
    assert remaining == [2, 1, 0]
    result = await verify(client, token, verify_input(row.key, secret, now=now + 20))
    assert (result["allowed"], result["code"]) == (False, "RATE_LIMITED")
    assert result["rateLimit"]["remaining"] == 0
    assert result["rateLimit"]["limit"] == 3


async def test_rate_limited_post_may_be_retried_with_the_same_signature(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, rate_limit=(1, 10))
    token = await verifier_token()
    now = start_of_window(rt, 10)
    first = verify_input(row.key, secret, now=now, method="POST")
    assert (await verify(client, token, first))["code"] == "VALID"
    second = verify_input(row.key, secret, now=now + 1, method="POST")
    assert (await verify(client, token, second))["code"] == "RATE_LIMITED"
    rt.clock.advance(10)
    # Not accepted the first time, so not a replay: the quota decides again.
    assert (await verify(client, token, second))["code"] == "VALID"
    assert (await verify(client, token, second))["code"] == "REPLAYED"


async def test_only_a_verifier_token_may_verify(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, _ = setup
    data = verify_input(row.key, secret, now=rt.clock.time())
    body = await gql(client, VERIFY, {"input": data})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    body = await gql(client, VERIFY, {"input": data}, token=await monitor_token())
    assert error_codes(body) == ["FORBIDDEN"]
    assert await UsageLog.all().count() == 0


async def test_every_decision_has_its_log_row_rollup_and_last_use(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    now = rt.clock.time()
    ok = verify_input(row.key, secret, now=now, client_ip="203.0.113.9")
    bad = dict(ok, signature="0" * 128)
    missing = verify_input("gqk_" + "1" * 32, secret, now=now)
    for data in (ok, bad, missing, ok):
        await verify(client, token, data)
    logs = await UsageLog.all().order_by("id")
    assert [(log.code, log.allowed) for log in logs] == [
        ("VALID", True),
        ("INVALID_SIGNATURE", False),
        ("KEY_NOT_FOUND", False),
        ("VALID", True),
    ]
    assert logs[0].api_key_id == row.id
    assert logs[2].api_key_id is None
    assert logs[0].client_ip == "203.0.113.9"
    assert logs[0].method == "GET"
    assert logs[0].path == "/api/v4/spot/orders"
    assert logs[0].required_scope == "SPOT_READ"
    assert logs[2].key == "gqk_" + "1" * 32
    rollups = await UsageRollup.filter(api_key_id=row.id).order_by("bucket")
    assert {(r.bucket, r.allowed, r.denied) for r in rollups} == {
        ("DAY", 2, 1),
        ("HOUR", 2, 1),
        ("MINUTE", 2, 1),
    }
    fresh = await ApiKey.get(id=row.id)
    assert fresh.last_used_ip == "203.0.113.9"
    assert fresh.last_used_at is not None


async def test_decisions_are_published_as_events_after_logging(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    subscriber = rt.hub.subscribe(lambda event: True)
    ok = verify_input(row.key, secret, now=rt.clock.time())
    await verify(client, token, ok)
    await verify(client, token, dict(ok, signature="0" * 128))
    used, denied = subscriber.queue.get_nowait(), subscriber.queue.get_nowait()
    logs = await UsageLog.all().order_by("id")
    assert (used.kind, used.id, used.owner_id) == ("KEY_USED", str(logs[0].id), row.user_id)
    assert (denied.kind, denied.code, denied.id) == (
        "KEY_DENIED",
        "INVALID_SIGNATURE",
        str(logs[1].id),
    )


async def test_log_write_failure_denies_with_service_unavailable(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    data = verify_input(row.key, secret, now=rt.clock.time())
    assert (await verify(client, token, data))["code"] == "VALID"  # warms the key cache
    connection = connections.all()[0]
    await connection.execute_script("ALTER TABLE usage_logs RENAME TO usage_logs_gone")
    try:
        body = await gql(client, VERIFY, {"input": data}, token=token)
    finally:
        await connection.execute_script("ALTER TABLE usage_logs_gone RENAME TO usage_logs")
    assert error_codes(body) == ["SERVICE_UNAVAILABLE"]
    assert body["data"] is None
    assert rt.metrics.value("gql_keys_usage_log_write_failures_total") == 1
    assert (await verify(client, token, data))["code"] == "VALID"


async def test_metrics_expose_codes_latency_batches_and_queue(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    await verify(client, token, verify_input(row.key, secret, now=rt.clock.time()))
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'gql_keys_verifications_total{code="VALID"} 1' in text
    assert "gql_keys_verification_seconds_count 1" in text
    assert "gql_keys_usage_log_batch_rows_count" in text
    assert "gql_keys_usage_log_queue_depth 0" in text


HOSTILE = ["", " ", "\x00", "\n", "é", "🔑" * 100, "a" * 20_000, "1" * 40, "-1", "NaN"]


@pytest.mark.parametrize(
    "field", ["key", "signature", "timestamp", "method", "path", "query", "bodySha512", "clientIp"]
)
async def test_hostile_values_in_any_field_are_denials_never_errors(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str], field: str
) -> None:
    row, secret, token = setup
    for value in HOSTILE:
        data = verify_input(row.key, secret, now=rt.clock.time(), method="POST")
        data[field] = value
        result = await verify(client, token, data)
        assert result["allowed"] is False, (field, value[:20])
    assert await UsageLog.all().count() == len(HOSTILE)


async def test_a_hostile_row_does_not_fail_the_batch_it_shares(
    client: httpx.AsyncClient, rt: Runtime, setup: tuple[ApiKey, str, str]
) -> None:
    row, secret, token = setup
    good = verify_input(row.key, secret, now=rt.clock.time())
    hostile = dict(good, path="/\x00\ud800", key="gqk_\x00")

    async def send(data: dict[str, Any]) -> str:
        # json.dumps escapes the lone surrogate, as a hostile client's JSON would carry it.
        content = json.dumps({"query": VERIFY, "variables": {"input": data}})
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        response = await client.post("/graphql", content=content, headers=headers)
        code: str = response.json()["data"]["verifyApiRequest"]["code"]
        return code

    codes = await asyncio.gather(send(hostile), send(good), send(hostile))
    assert list(codes) == ["KEY_NOT_FOUND", "VALID", "KEY_NOT_FOUND"]
    assert await UsageLog.all().count() == 3
