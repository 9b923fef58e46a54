"""The allowlist loophole: halves of the address space passed for a WITHDRAW allowlist.

``0.0.0.0/1`` + ``128.0.0.0/1`` (or ``::/1`` + ``8000::/1``, or ``::ffff:0.0.0.0/97``)
allowed every address, yet satisfied "WITHDRAW needs an allowlist" and escaped the
90-day expiry cap. A network may be at most a /16 (IPv4) or a /32 (IPv6), IPv4-mapped
IPv6 networks are judged as IPv4, and a wider one is ``INVALID_INPUT`` naming the entry.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from gql_keys.domain_errors import InvalidInput
from gql_keys.runtime import Runtime
from gql_keys.services.key_policy import validate_allowlist
from gql_keys.settings import Settings
from harness.accounts import signed_up_user
from tests.api.test_keys import create, raw_rows

NOW = datetime(2026, 12, 1, tzinfo=UTC)

HALVES = [
    ["0.0.0.0/1", "128.0.0.0/1"],
    ["::/1", "8000::/1"],
    ["::ffff:0.0.0.0/97", "::ffff:128.0.0.0/97"],
]


@pytest.mark.parametrize("halves", HALVES)
async def test_withdraw_key_with_half_internet_allowlist_is_refused_naming_the_entry(
    client: httpx.AsyncClient, rt: Runtime, halves: list[str]
) -> None:
    user = await signed_up_user(client, rt)
    payload = await create(client, user, scopes=["WITHDRAW"], ipAllowlist=halves)
    assert payload["challenge"] is None
    errors = payload["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("INVALID_INPUT", ["input", "ipAllowlist", "0"]),
        ("INVALID_INPUT", ["input", "ipAllowlist", "1"]),
    ]
    for error, entry in zip(errors, halves, strict=True):
        assert entry in error["message"]
    assert await raw_rows("api_keys") == []


@pytest.mark.parametrize(
    ("entry", "allowed"),
    [
        ("10.20.0.0/16", True),
        ("10.0.0.0/15", False),
        ("2001:db8::/32", True),
        ("2001:db8::/31", False),
        ("::ffff:10.20.0.0/112", True),  # a /16 of IPv4, written as IPv6
        ("::ffff:10.0.0.0/111", False),  # a /15 of IPv4
        ("::/80", False),  # covers every IPv4-mapped address: all of IPv4
        ("::ffff:0:0/96", False),
    ],
)
def test_allowlist_width_limits_follow_the_settings(entry: str, allowed: bool) -> None:
    settings = Settings()
    if allowed:
        assert validate_allowlist([entry], settings)
    else:
        with pytest.raises(InvalidInput):
            validate_allowlist([entry], settings)


def test_allowlist_width_limits_are_configurable() -> None:
    wide = Settings(allowlist_min_prefix_v4=8, allowlist_min_prefix_v6=16)
    assert validate_allowlist(["10.0.0.0/8", "2001::/16"], wide) == ["10.0.0.0/8", "2001::/16"]
    with pytest.raises(InvalidInput):
        validate_allowlist(["10.0.0.0/8"], Settings())
