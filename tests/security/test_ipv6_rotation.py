"""Per-address throttles counted the full IPv6 address, so one host holding a /64 could
rotate addresses past every one of them (registration, wrong logins, failures before a
valid signature). Now they count IPv6 per /64 (``throttle_ipv6_prefix``) and IPv4-mapped
IPv6 as its IPv4; ``/authz`` parses ``X-Real-IP`` / ``X-Forwarded-For`` like the GraphQL
path, so rows and throttle keys match between doors."""

from __future__ import annotations

import httpx
import pytest

from gql_keys.domain_errors import DomainError, ErrorCode
from gql_keys.runtime import Runtime
from gql_keys.scopes import Scope
from gql_keys.security.addresses import throttle_address
from gql_keys.services import accounts, sessions
from gql_keys.services.security_events import ClientInfo
from gql_keys.services.verification import SignedRequest, VerificationCode, verify
from harness.accounts import DEFAULT_PASSWORD
from harness.authz import check
from harness.keys import create_active_key, create_user, verifier_token
from tests.api.test_authz import partner, rows
from tests.security.test_key_id_flooding import start_of_a_minute


def rotating(count: int, network: str = "2001:db8:1:2") -> list[str]:
    """``count`` different addresses of one IPv6 /64."""
    return [f"{network}:{i:x}:{i * 7:x}:{i * 13:x}:{i + 1:x}" for i in range(count)]


def test_throttle_keys_are_ipv4_as_is_and_ipv6_per_64() -> None:
    assert throttle_address("203.0.113.9", 64) == "203.0.113.9"
    assert throttle_address("::ffff:203.0.113.9", 64) == "203.0.113.9"
    assert throttle_address("2001:db8:1:2:aaaa::1", 64) == "2001:db8:1:2::/64"
    assert throttle_address("[2001:db8:1:2::5]", 64) == "2001:db8:1:2::/64"
    assert throttle_address("2001:db8:1:2:aaaa::1", 128) == "2001:db8:1:2:aaaa::1/128"
    assert throttle_address("unknown", 64) == "unknown"


async def test_unsigned_failures_from_one_64_share_one_throttle(rt: Runtime) -> None:
    limit = rt.settings.unsigned_failures_per_minute
    victim = await create_user()
    key, _ = await create_active_key(rt, victim.id)
    now = start_of_a_minute(rt)

    def junk(client_ip: str) -> SignedRequest:
        return SignedRequest(
            key=key.key,
            signature="0" * 128,
            timestamp=str(int(now)),
            method="GET",
            path="/api/v4/spot/orders",
            query="",
            body_sha512="0" * 128,
            client_ip=client_ip,
            required_scope=Scope.SPOT_READ,
        )

    codes = [(await verify(rt, junk(address))).code for address in rotating(limit + 5)]
    assert codes == [VerificationCode.INVALID_SIGNATURE] * limit + (
        [VerificationCode.RATE_LIMITED] * 5
    )
    # Another /64 is another client.
    other = (await verify(rt, junk("2001:db8:1:3::1"))).code
    assert other is VerificationCode.INVALID_SIGNATURE


async def test_ipv4_mapped_addresses_count_with_their_ipv4(rt: Runtime) -> None:
    limit = rt.settings.register_max_per_address
    for i in range(limit):
        address = "203.0.113.9" if i % 2 else "::ffff:203.0.113.9"
        with pytest.raises(DomainError) as weak:
            await accounts.register(rt, f"m{i}@example.com", "weak", address)
        assert weak.value.code is ErrorCode.WEAK_PASSWORD
    with pytest.raises(DomainError) as refused:
        await accounts.register(rt, "last@example.com", DEFAULT_PASSWORD, "::ffff:203.0.113.9")
    assert refused.value.code is ErrorCode.TOO_MANY_ATTEMPTS


async def test_registrations_from_one_64_share_one_throttle(rt: Runtime) -> None:
    limit = rt.settings.register_max_per_address
    addresses = rotating(limit + 1)
    for i, address in enumerate(addresses[:limit]):
        with pytest.raises(DomainError) as weak:
            await accounts.register(rt, f"r{i}@example.com", "weak", address)
        assert weak.value.code is ErrorCode.WEAK_PASSWORD
    with pytest.raises(DomainError) as refused:
        await accounts.register(rt, "last@example.com", DEFAULT_PASSWORD, addresses[-1])
    assert refused.value.code is ErrorCode.TOO_MANY_ATTEMPTS
    # Another /64 may still register.
    user = await accounts.register(rt, "other@example.com", DEFAULT_PASSWORD, "2001:db8:9::1")
    assert user.email == "other@example.com"


async def test_wrong_passwords_from_one_64_lock_that_network_out_of_the_account(
    rt: Runtime,
) -> None:
    await accounts.register(rt, "owner@example.com", DEFAULT_PASSWORD, "192.0.2.1")
    limit = rt.settings.login_max_failures_per_account_and_address
    addresses = rotating(limit + 1)
    for address in addresses[:limit]:
        with pytest.raises(DomainError) as wrong:
            await sessions.login(
                rt, "owner@example.com", "wrong password 123", None, ClientInfo(address, "t")
            )
        assert wrong.value.code is ErrorCode.INVALID_CREDENTIALS
    with pytest.raises(DomainError) as locked:
        await sessions.login(
            rt, "owner@example.com", DEFAULT_PASSWORD, None, ClientInfo(addresses[-1], "t")
        )
    assert locked.value.code is ErrorCode.TOO_MANY_ATTEMPTS
    # The owner, from their own address, is not locked out.
    await sessions.login(
        rt, "owner@example.com", DEFAULT_PASSWORD, None, ClientInfo("192.0.2.1", "t")
    )


@pytest.mark.parametrize(
    ("header", "value", "seen"),
    [
        ("X-Real-IP", "::ffff:203.0.113.9", "203.0.113.9"),
        ("X-Real-IP", " [2001:db8::1] ", "2001:db8::1"),
        ("X-Forwarded-For", "198.51.100.1, ::FFFF:203.0.113.5", "203.0.113.5"),
    ],
)
async def test_forward_auth_writes_the_address_the_graphql_path_would(
    client: httpx.AsyncClient, rt: Runtime, header: str, value: str, seen: str
) -> None:
    user = await create_user()
    row, secret = await create_active_key(
        rt, user.id, ip_allowlist=["203.0.113.0/24", "2001:db8::/32"]
    )
    request = partner(rt, row, secret)
    request.headers = {header: value}
    response = await check(client, "nginx", request, await verifier_token())
    assert response.status_code == 200
    assert (await rows())[-1].client_ip == seen


@pytest.mark.parametrize(
    "headers", [{"X-Real-IP": "not-an-address"}, {"X-Forwarded-For": "203.0.113.5, nope"}]
)
async def test_forward_auth_refuses_an_address_header_that_is_no_address(
    client: httpx.AsyncClient, rt: Runtime, headers: dict[str, str]
) -> None:
    user = await create_user()
    row, secret = await create_active_key(rt, user.id)
    request = partner(rt, row, secret)
    request.headers = headers
    response = await check(client, "nginx", request, await verifier_token())
    assert response.status_code == 400
    assert response.json()["label"] == "INVALID_CLIENT_ADDRESS"
    assert response.headers["x-error-label"] == "INVALID_CLIENT_ADDRESS"
    assert await rows() == []
