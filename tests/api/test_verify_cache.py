"""The key cache: known and unknown keys are answered from memory."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gql_keys import key_cache
from gql_keys.models import ApiKey, ServiceToken
from gql_keys.repositories import service_tokens
from gql_keys.runtime import Runtime
from gql_keys.security.signing import hmac_sha512_hex
from gql_keys.security.tokens import token_digest
from harness.keys import create_active_key, create_user, verifier_token


async def test_known_key_is_read_from_the_database_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id)
    for _ in range(5):
        record = await rt.key_cache.get(row.key)
        assert record is not None
        assert record.secret == secret.encode()
    assert rt.metrics.value("gql_keys_key_cache_misses_total") == 1


async def test_unknown_key_is_negatively_cached(client: httpx.AsyncClient, rt: Runtime) -> None:
    unknown = "gqk_" + "a" * 32
    for _ in range(5):
        assert await rt.key_cache.get(unknown) is None
    assert rt.metrics.value("gql_keys_key_cache_misses_total") == 1
    assert await rt.key_cache.get("not-a-key-shape") is None
    assert rt.metrics.value("gql_keys_key_cache_misses_total") == 1


async def test_invalidate_makes_a_change_visible_at_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await create_user()
    row, _ = await create_active_key(rt, user.id, scopes=["SPOT_READ"])
    assert (await rt.key_cache.get(row.key)) is not None
    await ApiKey.filter(id=row.id).update(scopes=["SPOT_WRITE"])
    await rt.key_cache.invalidate(row.key)
    record = await rt.key_cache.get(row.key)
    assert record is not None
    assert "SPOT_WRITE" in record.scopes


async def test_pending_key_is_not_found(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await create_user()
    row, _ = await create_active_key(rt, user.id)
    await ApiKey.filter(id=row.id).update(state="pending")
    assert await rt.key_cache.get(row.key) is None


def test_gate_documentation_vector() -> None:
    payload = (
        b"GET\n/api/v4/futures/orders\ncontract=BTC_USD&status=finished&limit=50\n"
        b"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
        b"\n1541993715"
    )
    assert hmac_sha512_hex("secret", payload) == (
        "55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6"
        "fb3faf24deff16790d726b66ac9f74526668b13bd01029199cc4fcc522418b8a"
    )


async def test_a_gateways_concurrent_requests_read_its_token_once(
    client: httpx.AsyncClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await verifier_token()
    reads: list[str] = []
    read = service_tokens.live_service_token_by_digest

    async def counted(digest: str) -> ServiceToken | None:
        reads.append(digest)
        await asyncio.sleep(0.01)  # the read is still running when the others arrive
        return await read(digest)

    monkeypatch.setattr(key_cache, "live_service_token_by_digest", counted)
    found = await asyncio.gather(
        *(rt.service_token_cache.get(token_digest(token)) for _ in range(20))
    )
    assert len(reads) == 1
    assert {p.name if p else None for p in found} == {"gateway"}
    assert await rt.service_token_cache.get(token_digest("gqs_unknown")) is None
    assert len(reads) == 2
