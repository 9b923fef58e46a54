"""Where a webhook may go in production: https to public addresses only, checked after
name resolution (so a name resolving to loopback is refused like the address itself)."""

from __future__ import annotations

import ipaddress

import pytest

from gql_keys.notifications.destinations import (
    Destination,
    UnsafeDestination,
    check,
    is_public,
)
from gql_keys.notifications.webhooks import client, post_to_first_that_connects
from harness.live_server import free_port
from harness.webhook_receiver import WebhookReceiver

REFUSED = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "169.254.1.1",
    "0.0.0.0",
    "224.0.0.1",
    "100.64.0.1",  # shared address space
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:8.8.8.8",
    "2002:7f00:1::",  # 6to4 around 127.0.0.1
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.0.0.8/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://localhost/hooks",  # a name resolving to loopback
        "http://8.8.8.8/hooks",  # not https
        "https://user:password@8.8.8.8/hooks",
        "ftp://8.8.8.8/hooks",
        "https:///hooks",
    ],
)
async def test_production_refuses(url: str) -> None:
    with pytest.raises(UnsafeDestination):
        await check(url, allow_private=False)


async def test_a_checked_destination_connects_to_the_address_it_checked() -> None:
    pinned = await check("https://8.8.8.8:8443/hooks?x=1", allow_private=False)
    assert pinned.url == "https://8.8.8.8:8443/hooks?x=1"
    named = await check("http://localhost:9000/in", allow_private=True)
    assert named.url.split("//", 1)[1].split(":")[0] in ("127.0.0.1", "[::1]")
    assert named.host_header == "localhost:9000"
    assert named.server_name == "localhost"


def test_private_destinations_are_allowed_in_development_and_refused_in_production() -> None:
    from gql_keys.settings import Settings

    assert Settings().webhooks_may_reach_private is True
    assert Settings(env="production").webhooks_may_reach_private is False
    assert Settings(env="production", webhook_allow_private=True).webhooks_may_reach_private


async def test_a_host_that_refuses_on_its_first_address_is_reached_on_the_next() -> None:
    with WebhookReceiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        closed = f"http://127.0.0.1:{free_port()}/hooks"
        destination = Destination(
            urls=(closed, receiver.url), host_header=f"hooks.example:{port}", server_name="x"
        )
        async with client() as http:
            answer = await post_to_first_that_connects(http, destination, "{}", {}, 5.0)
        (received,) = receiver.wait_for(1)
    assert 200 <= answer.status_code < 300
    assert received.path == "/hooks"
